import { Effect, Exit, FiberSet, Scope } from "effect"
import type { Connection } from "../Connection.ts"
import type { Listener } from "../Transport.ts"
import { acceptLoop, safeFormat } from "./acceptLoop.ts"

/** The connections a {@link run} serves. */
export interface Runner {
  /** Connections being served right now. */
  readonly active: () => number
  /** Connections accepted since start (including rejected ones). */
  readonly accepted: () => number
  /** Connections closed at once because `maxConnections` were open. */
  readonly rejected: () => number
  /** Interrupts every connection's fiber (and waits for them). */
  readonly interruptAll: Effect.Effect<void>
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Open connections past which a new one is closed at once. Default: no limit. */
  readonly maxConnections?: number | undefined
  /** What to log for a rejected connection. Default: a Warning naming the limit. */
  readonly onRejected?: ((conn: Connection, max: number) => Effect.Effect<void>) | undefined
  /** Called after each connection's fiber ended (the count already lowered). */
  readonly onEnded?: (() => void) | undefined
}

/**
 * The server runner every server is built on (`Server.serve`,
 * `ProtocolServer`): the accept loop, a fiber per connection in a set that
 * closes with the caller's scope, the connection limit and the counters.
 * `serve` gets each accepted connection with its own scope (closed by the
 * caller's program, or by the runner for a rejected connection) and returns
 * the program that serves it, which must not fail.
 */
export const run = <R>(
  listener: Listener,
  options: RunOptions,
  serve: (conn: Connection, scope: Scope.CloseableScope) => Effect.Effect<void, never, R>
): Effect.Effect<Runner, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    const fibers = yield* FiberSet.make<void, never>()
    const max = options.maxConnections ?? Infinity
    const onEnded = options.onEnded
    let active = 0
    let accepted = 0
    let rejected = 0
    const ended = Effect.sync(() => {
      active--
      if (onEnded !== undefined) onEnded()
    })
    const start = (conn: Connection, scope: Scope.CloseableScope) =>
      Effect.suspend(() => {
        accepted++
        if (active >= max) {
          rejected++
          const log = options.onRejected?.(conn, max) ??
            Effect.logWarning(`over maxConnections (${max}): closing the new connection`).pipe(
              Effect.annotateLogs({ connection: conn.id, peer: safeFormat(conn) })
            )
          return Effect.zipRight(log, FiberSet.run(fibers, Scope.close(scope, Exit.void)))
        }
        const program = Effect.ensuring(serve(conn, scope), ended)
        active++
        return FiberSet.run(fibers, program)
      })
    yield* Effect.forkScoped(acceptLoop(listener, start))
    return {
      active: () => active,
      accepted: () => accepted,
      rejected: () => rejected,
      interruptAll: FiberSet.clear(fibers)
    } satisfies Runner
  })
