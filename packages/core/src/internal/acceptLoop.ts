import { Cause, Effect, Exit, Scope } from "effect"
import { format } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import type { Listener } from "../Transport.ts"

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
export const acceptLoop = <R>(
  listener: Listener,
  start: (conn: Connection, scope: Scope.CloseableScope) => Effect.Effect<void, unknown, R>
): Effect.Effect<void, never, R> =>
  Effect.gen(function*() {
    while (true) {
      const scope = yield* Scope.make()
      const accepted = yield* Effect.exit(Scope.extend(listener.accept, scope))
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
