import { Clock, Duration, Effect, Schedule } from "effect"
import type { Scope } from "effect"
import type { Connection } from "../Connection.ts"

/**
 * A connection as the watchdog sees it: what it can read of its state and
 * what it does when the connection is idle or too slow.
 */
export interface Watched {
  readonly connection: Connection
  /** Work in progress (requests in flight): never idle then. */
  busy(): boolean
  /** Bytes held for a message not complete yet (0 when between messages). */
  incomplete(): number
  /** No byte either way for `idleTimeout` and not busy. */
  idle(): void
  /** An incomplete message arrives slower than `minReadRate`. */
  slow(detail: string): void
}

/** Timeouts of {@link watch}, in milliseconds (undefined: off). */
export interface WatchOptions {
  readonly idleTimeout: number | undefined
  readonly readTimeout: number | undefined
  /** Bytes per second an incomplete message must keep up over each `readTimeout` window. */
  readonly minReadRate: number
}

interface State {
  /** Bytes read + written when last seen, and when they last changed. */
  bytes: number
  at: number
  /** The window over which an incomplete message's progress is measured (-1: none open). */
  windowStart: number
  windowBytes: number
}

/**
 * One sweep, on the Clock, over the connections `current()` lists: idle
 * means no byte in either direction (a large message arriving slowly is not
 * idle, a peer that stops reading our replies is); slow means an incomplete
 * message that gained fewer than `minReadRate × readTimeout` bytes over a
 * whole `readTimeout` window (a peer trickling one byte a second). Forked in
 * the caller's scope; nothing runs when both timeouts are off.
 */
export const watch = (
  current: () => Iterable<Watched>,
  options: WatchOptions
): Effect.Effect<void, never, Scope.Scope> => {
  const { idleTimeout, minReadRate, readTimeout } = options
  if (idleTimeout === undefined && readTimeout === undefined) return Effect.void
  const shortest = Math.min(idleTimeout ?? Infinity, readTimeout ?? Infinity)
  const every = Math.min(1000, Math.max(10, Math.floor(shortest / 4)))
  const states = new WeakMap<Watched, State>()
  const sweep = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.sync(() => {
      for (const w of current()) {
        const stats = w.connection.unsafeStats()
        const bytes = stats.bytesRead + stats.bytesWritten
        const s = states.get(w)
        if (s === undefined) {
          states.set(w, { bytes, at: now, windowStart: -1, windowBytes: 0 })
          continue
        }
        if (bytes !== s.bytes) {
          s.bytes = bytes
          s.at = now
        }
        if (idleTimeout !== undefined && now - s.at >= idleTimeout && !w.busy()) {
          w.idle()
          continue
        }
        if (readTimeout === undefined) continue
        if (w.incomplete() === 0) {
          s.windowStart = -1
        } else if (s.windowStart < 0) {
          s.windowStart = now
          s.windowBytes = stats.bytesRead
        } else if (now - s.windowStart >= readTimeout) {
          const got = stats.bytesRead - s.windowBytes
          const elapsed = now - s.windowStart
          if (got * 1000 < minReadRate * elapsed) {
            w.slow(
              `an incomplete message (${w.incomplete()} bytes held) gained ${got} bytes in ${elapsed}ms, ` +
                `below the minimum of ${minReadRate} bytes/s`
            )
            continue
          }
          s.windowStart = now
          s.windowBytes = stats.bytesRead
        }
      }
    }))
  return Effect.asVoid(Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(every)))))
}
