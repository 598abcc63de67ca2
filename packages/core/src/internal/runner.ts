import { Cause, Context, Effect, Exit, FiberRef, FiberRefs, FiberSet, HashMap, Scope } from "effect"
import type { Fiber } from "effect"
import { format } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import type { Listener } from "../Transport.ts"
import { acceptIntoOf } from "./listener.ts"

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
    // an observer of the connection's fiber rather than an `ensuring` around its program:
    // nothing of it stays on the stack of a fiber that waits for its peer
    const ended = () => {
      active--
      if (onEnded !== undefined) onEnded()
    }
    const track = (fiber: Fiber.RuntimeFiber<void, never>) => Effect.sync(() => fiber.addObserver(ended))
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
        active++
        return Effect.flatMap(FiberSet.run(fibers, serve(conn, scope)), track)
      })
    yield* Effect.forkScoped(acceptLoop(listener, start))
    return {
      active: () => active,
      accepted: () => accepted,
      rejected: () => rejected,
      interruptAll: FiberSet.clear(fibers)
    } satisfies Runner
  })

/**
 * The one accept loop of every server (`Server`, `ProtocolServer`): takes
 * connections from `listener` until it closes, each in a scope of its own, and
 * hands each to `start`, which must fork what serves it and return.
 *
 * Nothing that goes wrong with one connection may end the loop: a failure or a
 * defect of `start` (a runtime that reports a connection with no peer address,
 * a setup that throws) is logged with the connection's facts, that connection's
 * scope is closed (which closes the connection), and the loop goes on. Only the
 * listener's `Closed` ends it. A defect of `accept` itself is logged and the
 * loop yields before it tries again, so a broken listener cannot spin.
 */
const acceptLoop = <R>(
  listener: Listener,
  start: (conn: Connection, scope: Scope.CloseableScope) => Effect.Effect<void, unknown, R>
): Effect.Effect<void, never, R> =>
  Effect.gen(function*() {
    const acceptInto = acceptIntoOf(listener) ?? ((scope: Scope.Scope) => Scope.extend(listener.accept, scope))
    while (true) {
      const scope = yield* Scope.make()
      const accepted = yield* Effect.exit(acceptInto(scope))
      if (Exit.isFailure(accepted)) {
        yield* Scope.close(scope, Exit.void)
        if (Cause.isFailType(accepted.cause) || Cause.isInterruptedOnly(accepted.cause)) return // ListenError: Closed
        yield* Effect.logError("accept failed; accepting goes on", accepted.cause)
        yield* Effect.sleep("10 millis")
        continue
      }
      const conn = accepted.value
      const started = yield* Effect.exit(Effect.suspend(() => start(conn, scope)))
      if (Exit.isFailure(started)) {
        if (Cause.isInterruptedOnly(started.cause)) return
        yield* Effect.logWarning("could not start serving a connection; closing it", started.cause).pipe(
          Effect.annotateLogs({ connection: conn.id, peer: safeFormat(conn) })
        )
        yield* Scope.close(scope, Exit.void)
      }
    }
  })

/** The peer's address for logs, whatever the runtime reported. */
export const safeFormat = (conn: Connection): string => {
  try {
    return format(conn.remoteAddress)
  } catch {
    return "unknown"
  }
}

/**
 * Adds `services` to the context and `annotations` to the log annotations of
 * the rest of the current fiber: for a connection's own fiber, which ends with
 * its connection. Unlike `provideService` and `annotateLogs`, nothing is
 * restored afterwards, so nothing stays on the fiber's stack while it waits.
 */
export const enter = (
  services: Context.Context<never>,
  annotations: Readonly<Record<string, unknown>>
): Effect.Effect<void> =>
  // both in one step: every connection's fiber runs this
  Effect.updateFiberRefs((fiberId, refs) => {
    const context = Context.merge(FiberRefs.getOrDefault(refs, FiberRef.currentContext), services)
    let logAnnotations = FiberRefs.getOrDefault(refs, FiberRef.currentLogAnnotations)
    for (const key in annotations) logAnnotations = HashMap.set(logAnnotations, key, annotations[key])
    return FiberRefs.updateManyAs(refs, {
      entries: [
        [FiberRef.currentContext, [[fiberId, context]]],
        [FiberRef.currentLogAnnotations, [[fiberId, logAnnotations]]]
      ]
    })
  })
