/**
 * The server runner: accepts connections and runs a handler for each one in
 * its own fiber and scope, all on one event loop (I/O multiplexing, no thread
 * per client).
 *
 * - The handler is an Effect that finds the current connection as the
 *   {@link Connection.Connection} service.
 * - When the handler returns, its connection is closed gracefully (pending
 *   writes flushed, FIN sent).
 * - A handler that fails or dies closes only its own connection; the failure
 *   is logged (with the connection id and peer) and the server keeps serving.
 *   A reset by the peer is logged at Debug level, anything else at Warning.
 * - Closing the server's scope stops accepting (the listener is closed) and
 *   interrupts every open handler; each interrupted handler's connection is
 *   then closed gracefully, waiting at most `closeTimeout` for its pending
 *   writes before a reset. A graceful drain with a deadline is the job of the
 *   protocol layer.
 *
 * @example
 * ```ts
 * import { Connection, Server } from "@wirekit/core"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect, Layer } from "effect"
 *
 * const echo = Effect.gen(function* () {
 *   const conn = yield* Connection.Connection
 *   while (true) {
 *     const chunks = yield* conn.readMany
 *     if (chunks === Connection.EOF) return
 *     yield* conn.writeAll(chunks)
 *   }
 * })
 * const main = Server.layer({ host: "127.0.0.1", port: 7000 }, echo)
 * Layer.launch(main).pipe(Effect.provide(NodeTransport.layer))
 * ```
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Exit, Layer, Scope } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import { Connection, ConnectionError } from "./Connection.ts"
import * as Runner from "./internal/runner.ts"
import { safeFormat } from "./internal/runner.ts"
import { watch } from "./internal/watch.ts"
import type { Watched } from "./internal/watch.ts"
import type { Listener, ListenError, ListenOptions } from "./Transport.ts"
import { Transport } from "./Transport.ts"

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** The bound address (the real port for port 0). */
  readonly address: Address
  /** The listener the server accepts from. */
  readonly listener: Listener
  /** Connections being handled right now. */
  readonly active: () => number
  /** Connections accepted since start. */
  readonly accepted: () => number
  /** Handlers that ended with a failure or defect. */
  readonly failed: () => number
  /** Connections closed at once because `maxConnections` were open. */
  readonly rejected: () => number
}

/**
 * Options of the runner.
 *
 * @since 0.1.0
 * @category options
 */
export interface ServeOptions {
  /** Log each connection's open and close at Info level (default: Debug). */
  readonly logConnections?: boolean | undefined
  /**
   * Open connections past which a new one is accepted and closed at once
   * (counted in `rejected`, logged at Warning). Default 10000.
   */
  readonly maxConnections?: number | undefined
  /**
   * Close a connection after this long without a byte either way (the
   * handler's reads then see the close). Default 5 minutes;
   * `Duration.infinity` disables.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

/**
 * Default limits of {@link serve}.
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly maxConnections: number
  readonly idleTimeout: Duration.Duration
} = {
  maxConnections: 10_000,
  idleTimeout: Duration.minutes(5)
}

/**
 * A connection of {@link serve} as the watchdog sees it: never busy (the
 * handler's work is its own), closed when idle. Its methods live on the
 * prototype, so a connection waiting for its peer holds one small object.
 */
class WatchedConnection implements Watched {
  constructor(readonly connection: Connection, private readonly watched: Set<Watched>) {}

  busy(): boolean {
    return false
  }

  incomplete(): number {
    return 0
  }

  idle(): void {
    this.watched.delete(this)
    const conn = this.connection
    Effect.runFork(Effect.zipRight(
      Effect.logDebug("idle: closing the connection").pipe(
        Effect.annotateLogs({ connection: conn.id, peer: safeFormat(conn) })
      ),
      conn.close
    ))
  }

  slow(): void {}

  /** The handler is done: leave the watch and close the connection's scope. */
  done(scope: Scope.CloseableScope): Effect.Effect<void> {
    this.watched.delete(this)
    return Scope.close(scope, Exit.void)
  }
}

/** A `FramingError` of a stream that ended inside a frame (checked by tag: this module does not import Framing). */
const isTruncated = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "FramingError" &&
  (error as { reason?: unknown }).reason === "Truncated"

/**
 * Runs `handler` for every connection `listener` accepts, until the scope
 * closes. Returns at once with the running server.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(
  listener: Listener,
  handler: Effect.Effect<void, E, R>,
  options?: ServeOptions
): Effect.Effect<Server, never, Scope.Scope | Exclude<R, Connection>> =>
  Effect.gen(function*() {
    let failed = 0
    const log = options?.logConnections ? Effect.logInfo : Effect.logDebug

    const watched = new Set<Watched>()
    const closedLog = log("connection closed")
    const openedLog = log("connection opened")
    // what a connection's fiber does once its handler is done: the same for all of them
    const outcome = {
      onFailure(cause: Cause.Cause<unknown>): Effect.Effect<void> {
        if (Cause.isInterruptedOnly(cause)) return closedLog
        failed++
        // a peer that resets is a network event, not a handler bug: keep it out of the warnings
        const failure = Cause.failureOption(cause)
        const peerReset = failure._tag === "Some" && failure.value instanceof ConnectionError &&
          failure.value.reason === "Reset"
        // so is a peer that ends its side inside a frame (EOF mid-line): it has left, it broke nothing,
        // and a stack trace per such peer would bury the real failures (one line at Info instead)
        const truncated = failure._tag === "Some" && isTruncated(failure.value)
        return Effect.zipRight(
          peerReset
            ? Effect.logDebug("connection reset by peer", cause)
            : truncated
            ? Effect.logInfo(`peer closed the connection inside a frame: ${(failure.value as Error).message}`)
            : Effect.logWarning("connection handler failed; closing its connection", cause),
          closedLog
        )
      },
      onSuccess(): Effect.Effect<void> {
        return closedLog
      }
    }
    const serveOne = (conn: Connection, connScope: Scope.CloseableScope) => {
      const entry = new WatchedConnection(conn, watched)
      watched.add(entry)
      // while the handler waits, its fiber keeps one frame for the outcome and one `ensuring`:
      // the Connection service and the annotations are the fiber's own (see Runner.enter)
      const program = Effect.ensuring(
        Effect.matchCauseEffect(handler as Effect.Effect<void, E, Exclude<R, Connection> | Connection>, outcome),
        Effect.suspend(() => entry.done(connScope))
      )
      return Effect.zipRight(
        Runner.enter(Context.make(Connection, conn), { connection: conn.id, peer: safeFormat(conn) }),
        Effect.zipRight(openedLog, program as Effect.Effect<void, never, Exclude<R, Connection>>)
      )
    }

    const runner = yield* Runner.run(
      listener,
      { maxConnections: options?.maxConnections ?? defaults.maxConnections },
      serveOne
    )
    const idle = Duration.decode(options?.idleTimeout ?? defaults.idleTimeout)
    yield* watch(() => watched, {
      idleTimeout: Duration.isFinite(idle) ? Duration.toMillis(idle) : undefined,
      readTimeout: undefined,
      minReadRate: 0
    })
    yield* Effect.addFinalizer(() => listener.close)
    return {
      address: listener.address,
      listener,
      active: runner.active,
      accepted: runner.accepted,
      rejected: runner.rejected,
      failed: () => failed
    } satisfies Server
  })

/**
 * Listens on `address` with the current {@link Transport} and serves
 * `handler`, until the scope closes.
 *
 * @since 0.1.0
 * @category running
 */
export const listen = <E, R>(
  address: Address,
  handler: Effect.Effect<void, E, R>,
  options?: ListenOptions & ServeOptions
): Effect.Effect<Server, ListenError, Transport | Scope.Scope | Exclude<R, Connection>> =>
  Effect.flatMap(Transport, (t) => Effect.flatMap(t.listen(address, options), (l) => serve(l, handler, options)))

/**
 * A server as a Layer: listens when built, stops when released. Use with
 * `Layer.launch` for a process whose only job is the server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  address: Address,
  handler: Effect.Effect<void, E, R>,
  options?: ListenOptions & ServeOptions
): Layer.Layer<never, ListenError, Transport | Exclude<R, Connection>> =>
  Layer.scopedDiscard(
    Effect.tap(listen(address, handler, options), (s) => Effect.logInfo(`listening on ${format(s.address)}`))
  )
