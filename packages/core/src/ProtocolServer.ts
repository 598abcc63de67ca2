/**
 * Protocol servers: serve a {@link Protocol.Protocol} with a typed handler, on
 * any transport.
 *
 * ```
 *   accept ─▶ connection middleware ─▶ Framed.pump ─▶ decode every message of the batch
 *                                                      │
 *        handler(request, context) ─┬─ an Exit (Effect.succeed/fail)? ─▶ respond now
 *                                   ├─ evaluated in place, no fiber ───▶ completed: respond now
 *                                   └─ it must wait (I/O, sleep) ──────▶ the rest on a fiber, respond when it ends
 *   responses: inOrder → in request order; byId → as they complete
 *   every response of one read batch leaves in ONE socket write
 * ```
 *
 * Handlers are ordinary Effects (`Effect.gen`, `pipe` of middleware): the
 * server evaluates each one in place on the connection's context, without a
 * fiber, with Effect's semantics (services, `FiberRef`s, logging, spans,
 * typed errors, finalizers). Only a handler that must wait gets a fiber, for
 * the part that waits, and only that part is bound by `requestTimeout` (a
 * timer through the Clock). `ServerStats.inlined` and `forked` count the two
 * paths. Each request has a `Scope` of its own, closed when it is answered;
 * fibers a handler forks end with its request.
 *
 * - Inside a handler the connection is `context.session` (also the
 *   {@link Session.Session} service): id, addresses, typed state, `push`.
 *   The server's broadcast groups are `context.groups` ({@link Groups.Groups}).
 * - Typed handler errors become the protocol's error responses. A handler
 *   failing with a {@link Protocol.ProtocolError} sends that fault. A defect
 *   is logged and, per protocol, answered with an `Internal` fault or closes
 *   that connection. Never the whole server.
 * - Limits (safe defaults): `maxInFlight` per connection (then reading stops:
 *   backpressure reaches the socket), `maxConnections` (over it: accept,
 *   close at once, counted and logged), `idleTimeout`, `requestTimeout`.
 * - Graceful shutdown ({@link ProtocolServer.shutdown}, also run when the
 *   server's scope closes, e.g. the Layer's release): stop accepting → send
 *   the protocol's "draining" notice → answer requests in flight (new ones are
 *   refused with a `ShuttingDown` fault; each connection closes as soon as it
 *   is idle) up to the deadline → close the remaining connections → interrupt
 *   the handlers still running. `NodeRuntime.runMain` (from
 *   `@effect/platform-node`) turns SIGINT/SIGTERM into an interruption of the
 *   main fiber, which releases the Layer, which runs the shutdown:
 *
 * ```ts
 * Layer.launch(ProtocolServer.layer(Kv, handler, { address: { host: "0.0.0.0", port: 7000 } })).pipe(
 *   Effect.provide(NodeTransport.layer),
 *   NodeRuntime.runMain
 * )
 * ```
 *
 * @example
 * ```ts
 * import { Address, Client, Protocol, ProtocolServer } from "@wirekit/core"
 * import { NodeTransport } from "@wirekit/node"
 * import { Effect, Schema } from "effect"
 *
 * const Echo = Protocol.schema({ request: Schema.String, response: Schema.String })
 * const program = Effect.gen(function* () {
 *   const server = yield* ProtocolServer.serve(Echo, (text) => Effect.succeed(text.toUpperCase()), {
 *     address: { host: "127.0.0.1", port: 7000 }
 *   })
 *   yield* Effect.logInfo(`serving on ${Address.format(server.address)}`)
 *   const client = yield* Client.make(Echo, server.address)
 *   yield* client.request("hello") // "HELLO"
 * }).pipe(Effect.scoped, Effect.provide(NodeTransport.layer))
 * ```
 * @since 0.1.0
 */
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, FiberId, FiberSet, Layer, Option, Schedule, Scope } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import type { Connection } from "./Connection.ts"
import * as Framed from "./Framed.ts"
import { Groups } from "./Groups.ts"
import * as GroupsModule from "./Groups.ts"
import type { ErrorOf, OneWayOf, Protocol, ProtocolError, PushOf, RequestOf, ResponseOf } from "./Protocol.ts"
import { ProtocolError as ProtocolErrorClass } from "./Protocol.ts"
import type { Session as SessionT } from "./Session.ts"
import { Session } from "./Session.ts"
import type { Listener, ListenError, ListenOptions } from "./Transport.ts"
import { Transport } from "./Transport.ts"
import { acceptLoop, safeFormat } from "./internal/acceptLoop.ts"
import { immediate } from "./internal/protocol/scheduler.ts"
import { makeStats, ServerConnection } from "./internal/protocol/server.ts"

// ---------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------

/**
 * What a handler gets besides the message. One object per connection and
 * kind (do not keep it beyond the connection).
 */
export interface RequestContext<Push = unknown> {
  /** `"request"` (gets a response) or `"oneway"` (does not). */
  readonly kind: "request" | "oneway"
  /** The current connection. */
  readonly session: SessionT<Push>
  /** The server's broadcast groups. */
  readonly groups: GroupsModule.Groups<Push>
  /** The protocol's name. */
  readonly protocol: string
  /** The protocol's short name for a message (its `_tag` by default), for logs, metrics and spans. */
  readonly describe: (message: unknown) => string
}

/**
 * A handler: a message in, an Effect out. Return `Effect.succeed`/`Effect.fail`
 * (an `Exit`) when the answer is immediate: the server then runs no fiber at
 * all. Wrap with {@link Middleware} using `pipe`.
 *
 * @example
 * ```ts
 * const handler: ProtocolServer.Handler<string, string, never, never> = (text) => Effect.succeed(text)
 * ```
 */
export type Handler<In, Out, Err, R, Push = unknown> = (message: In, context: RequestContext<Push>) => Effect.Effect<Out, Err, R>

/** Request and one-way handlers together. */
export interface Handlers<Req, Res, Err, OneWay, R, Push> {
  readonly request: Handler<Req, Res, Err, R, Push>
  /** One-way messages (no response). Failures are logged. */
  readonly oneWay?: Handler<OneWay, unknown, unknown, R, Push> | undefined
}

/** The handler `serve` accepts for protocol `P`: a request handler, or request and one-way handlers. */
export type HandlerFor<P, R> =
  | Handler<RequestOf<P>, ResponseOf<P>, ErrorOf<P> | ProtocolError, R, PushOf<P>>
  | Handlers<RequestOf<P>, ResponseOf<P>, ErrorOf<P> | ProtocolError, OneWayOf<P>, R, PushOf<P>>

/**
 * Connection-level middleware: an Effect run when a connection opens, before
 * its first message, with the {@link Session.Session} and {@link Groups.Groups}
 * services and the connection's `Scope` (finalizers run when the connection
 * ends). Failing with a {@link Protocol.ProtocolError} closes the connection
 * (logged). See `Middleware.ipFilter`, `Middleware.metrics`.
 */
export type ConnectionMiddleware<R = never> = Effect.Effect<void, ProtocolError, R>

// ---------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------

/** Counters of a server, since it started. */
export interface ServerStats {
  /** Connections open now. */
  readonly active: number
  /** Connections accepted (including rejected ones). */
  readonly accepted: number
  /** Connections closed at once because `maxConnections` was reached. */
  readonly rejected: number
  /** Requests received (well-formed). */
  readonly requests: number
  /** One-way messages received. */
  readonly oneWays: number
  /** Requests answered with a success response. */
  readonly successes: number
  /** Requests answered with the protocol's error response (typed handler errors), or one-way failures. */
  readonly failures: number
  /** Requests answered with a fault (ProtocolError). */
  readonly faults: number
  /** Handler defects. */
  readonly defects: number
  /** Frames that did not decode. */
  readonly badInput: number
  /** Requests that hit the per-request timeout. */
  readonly timeouts: number
  /** Requests refused because the server was shutting down. */
  readonly refused: number
  /** Handlers that had to wait: the waiting rest ran on a fiber. */
  readonly forked: number
  /** Handlers that completed in place, without a fiber. */
  readonly inlined: number
}

/** What {@link ProtocolServer.shutdown} did. */
export interface ShutdownResult {
  /** Every connection closed on its own before the deadline. */
  readonly drained: boolean
  /** Connections closed at the deadline (their running handlers interrupted). */
  readonly forced: number
}

/** A running protocol server. */
export interface ProtocolServer<Push = unknown> {
  /** The bound address (the real port for port 0). */
  readonly address: Address
  /** The broadcast groups (push to a group from outside a handler). */
  readonly groups: GroupsModule.Groups<Push>
  /** The open sessions (a snapshot). */
  readonly sessions: () => ReadonlyArray<SessionT<Push>>
  readonly stats: () => ServerStats
  /**
   * Graceful shutdown with a deadline (default: the `shutdownTimeout`
   * option). Idempotent: a second call waits for the first.
   */
  readonly shutdown: (deadline?: Duration.DurationInput) => Effect.Effect<ShutdownResult>
}

/** Why a server closed a connection on its own. */
export type ProtocolServerErrorReason =
  /** The byte stream could not be framed (e.g. a frame over the limit). */
  | "Framing"
  /** The connection failed (reset, ...). */
  | "Connection"
  /** A connection middleware refused it. */
  | "Refused"
  /** Over `maxConnections`. */
  | "TooManyConnections"
  /** No traffic for `idleTimeout`. */
  | "Idle"

/** A connection closed by the server for a reason other than the peer's own end, as logged. */
export class ProtocolServerError extends Data.TaggedError("ProtocolServerError")<{
  readonly reason: ProtocolServerErrorReason
  readonly connection?: number | undefined
  readonly peer?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const who = this.connection === undefined ? "" : ` (connection ${this.connection}${this.peer ? `, peer ${this.peer}` : ""})`
    return `connection closed: ${this.reason}${who}`
  }
}

/** Options of {@link serve}. Listen options apply to the listener and every connection. */
export interface ServeOptions<RC = never> extends ListenOptions {
  /** Where to listen. Default `127.0.0.1:0` (a free port). */
  readonly address?: Address | undefined
  /** Requests (and one-way messages) handled at once per connection; then reading stops. Default 256. */
  readonly maxInFlight?: number | undefined
  /** Open connections past which new ones are accepted and closed at once. Default 10000. */
  readonly maxConnections?: number | undefined
  /** Close a connection with nothing in flight and no traffic for this long. Default 5 minutes; `Duration.infinity` disables. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Answer with a `Timeout` fault (and interrupt the handler) after this long. Default 30 seconds; `Duration.infinity` disables. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The deadline of the shutdown run when the server's scope closes. Default 10 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Unsent bytes past which a push closes the (slow) peer instead of buffering more. Default 4 MiB. */
  readonly maxWriteBuffer?: number | undefined
  /** Connection-level middleware, run in order when a connection opens. */
  readonly connection?: ReadonlyArray<ConnectionMiddleware<RC>> | undefined
  /** Broadcast groups to use (e.g. shared between servers). Default: a fresh set. */
  readonly groups?: GroupsModule.Groups<any> | undefined
  /** Log each connection's open and close at Info (default: Debug). */
  readonly logConnections?: boolean | undefined
}

/**
 * Default limits.
 *
 * ```ts
 * ProtocolServer.serve(P, handler, { maxInFlight: ProtocolServer.defaults.maxInFlight * 2 })
 * ```
 */
export const defaults = {
  maxInFlight: 256,
  maxConnections: 10_000,
  idleTimeout: Duration.minutes(5),
  requestTimeout: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(10),
  maxWriteBuffer: 4 * 1024 * 1024
} as const

const millis = (d: Duration.DurationInput | undefined, fallback: Duration.Duration): number | undefined => {
  const duration = Duration.decode(d ?? fallback)
  return Duration.isFinite(duration) ? Math.max(0, Duration.toMillis(duration)) : undefined
}

type Requirements<R> = Exclude<R, SessionT | GroupsModule.Groups | Scope.Scope>

/**
 * Serves `protocol` on an existing listener until the scope closes (which
 * runs a graceful shutdown with the `shutdownTimeout` deadline).
 *
 * @example
 * ```ts
 * const transport = yield* Transport.Transport
 * const listener = yield* transport.listen({ path: "/tmp/kv.sock" })
 * const server = yield* ProtocolServer.serveListener(listener, Kv, handler)
 * ```
 */
export const serveListener = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  listener: Listener,
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Effect.Effect<ProtocolServer<PushOf<P>>, never, Scope.Scope | Requirements<R | RC>> =>
  Effect.gen(function*() {
    type Push = PushOf<P>
    const stats = makeStats()
    const clock = yield* Effect.clock
    const groups: GroupsModule.Groups<Push> = options?.groups ?? GroupsModule.make<Push>()
    const engines = new Set<ServerConnection<any, any, any, any, Push>>()
    const fibers = yield* FiberSet.make<void, never>()
    const maxConnections = options?.maxConnections ?? defaults.maxConnections
    const idleTimeout = millis(options?.idleTimeout, defaults.idleTimeout)
    const shutdownTimeout = options?.shutdownTimeout ?? defaults.shutdownTimeout
    const connectionMiddleware = options?.connection ?? []
    const logOpenClose = options?.logConnections ? Effect.logInfo : Effect.logDebug
    const onRequest = typeof handler === "function" ? handler : handler.request
    const onOneWay = typeof handler === "function" ? undefined : handler.oneWay
    const config = {
      protocol: protocol.name,
      inOrder: protocol.correlation === "inOrder",
      onBadInput: protocol.onBadInput,
      onDefect: protocol.onDefect,
      describe: protocol.describe as (message: unknown) => string,
      maxInFlight: Math.max(1, options?.maxInFlight ?? defaults.maxInFlight),
      requestTimeout: millis(options?.requestTimeout, defaults.requestTimeout),
      maxWriteBuffer: options?.maxWriteBuffer ?? defaults.maxWriteBuffer,
      onRequest: onRequest as any,
      onOneWay: onOneWay as any,
      groups,
      stats
    }
    let noConnectionWaiters: Array<() => void> = []
    const connectionEnded = () => {
      stats.active--
      if (stats.active === 0) {
        const ws = noConnectionWaiters
        noConnectionWaiters = []
        for (const w of ws) w()
      }
    }
    /**
     * Waits until no connection is open, or `ms` elapse (then `false`). A
     * timer, not a race: the shutdown runs in finalizers, which are
     * uninterruptible (and, under `runMain`, belong to an interrupted fiber).
     */
    const awaitNoConnections = (ms: number | undefined) =>
      Effect.async<boolean>((resume) => {
        if (stats.active === 0) return resume(Effect.succeed(true))
        let timer: Fiber.RuntimeFiber<void> | undefined
        const w = () => {
          if (timer !== undefined) timer.unsafeInterruptAsFork(FiberId.none)
          resume(Effect.succeed(true))
        }
        noConnectionWaiters.push(w)
        if (ms !== undefined) {
          // the server's Clock (a TestClock in tests), on a fiber of its own
          timer = Effect.runFork(Effect.zipRight(
            clock.sleep(Duration.millis(ms)),
            Effect.sync(() => {
              noConnectionWaiters = noConnectionWaiters.filter((x) => x !== w)
              resume(Effect.succeed(false))
            })
          ))
        }
        return Effect.sync(() => {
          if (timer !== undefined) timer.unsafeInterruptAsFork(FiberId.none)
          noConnectionWaiters = noConnectionWaiters.filter((x) => x !== w)
        })
      })

    const serveConnection = (conn: Connection, scope: Scope.CloseableScope): Effect.Effect<void, never, any> => {
      const engine = new ServerConnection<any, any, any, any, Push>(conn, config, protocol.server(), protocol.framing)
      const peer = safeFormat(conn)
      const program = Effect.gen(function*() {
        engines.add(engine)
        yield* logOpenClose("connection opened")
        for (const middleware of connectionMiddleware) {
          const refused = yield* Effect.either(Scope.extend(middleware, scope))
          if (refused._tag === "Left") {
            yield* Effect.logWarning(
              "connection refused by middleware",
              new ProtocolServerError({ reason: "Refused", connection: conn.id, peer, cause: refused.left })
            )
            return
          }
        }
        engine.start(yield* Effect.runtime<never>(), clock)
        const framed = Framed.make(conn, protocol.framing)
        // the pump's fiber runs on the immediate scheduler (see internal/protocol/scheduler.ts)
        const exit = yield* Effect.exit(Effect.withScheduler(framed.pump(engine.onFrames), immediate))
        if (exit._tag === "Failure") {
          const failure = Cause.failureOption(exit.cause)
          const error = Option.getOrUndefined(failure)
          if (error !== undefined && (error as { _tag?: string })._tag === "FramingError") {
            yield* Effect.logWarning(
              "bad framing",
              new ProtocolServerError({ reason: "Framing", connection: conn.id, peer, cause: error })
            )
            if (protocol.onBadInput === "respond") {
              engine.respondFault(new ProtocolErrorClass({ reason: "BadRequest", detail: (error as Error).message }))
            }
          } else if (!Cause.isInterruptedOnly(exit.cause)) {
            yield* logOpenClose(
              "connection failed",
              new ProtocolServerError({ reason: "Connection", connection: conn.id, peer, cause: Cause.squash(exit.cause) })
            )
          }
        }
        // the peer is done sending (or gone): answer what is in flight, then close
        engine.ended()
        yield* engine.awaitClosed
        yield* conn.closed
        yield* logOpenClose("connection closed")
      }).pipe(
        Effect.ensuring(Effect.suspend(() => {
          engines.delete(engine)
          groups.unsafeLeaveAll(engine)
          return Effect.zipRight(engine.interruptAll, Scope.close(scope, Exit.void))
        })),
        Effect.ensuring(Effect.sync(connectionEnded)),
        Effect.provideService(Session, engine as SessionT),
        Effect.provideService(Groups, groups as GroupsModule.Groups),
        Effect.annotateLogs({ connection: conn.id, peer, protocol: protocol.name })
      )
      return program
    }

    const start = (conn: Connection, scope: Scope.CloseableScope) =>
      Effect.suspend(() => {
        stats.accepted++
        if (stats.active >= maxConnections) {
          stats.rejected++
          return Effect.zipRight(
            Effect.logWarning(
              `over maxConnections (${maxConnections}): closing the new connection`,
              new ProtocolServerError({ reason: "TooManyConnections", connection: conn.id, peer: safeFormat(conn) })
            ),
            FiberSet.run(fibers, Scope.close(scope, Exit.void))
          )
        }
        const program = serveConnection(conn, scope) as Effect.Effect<void>
        stats.active++
        return FiberSet.run(fibers, program)
      })

    yield* Effect.forkScoped(acceptLoop(listener, start))

    if (idleTimeout !== undefined) {
      const every = Math.min(1000, Math.max(10, Math.floor(idleTimeout / 4)))
      const sweep = Effect.sync(() => {
        const now = clock.unsafeCurrentTimeMillis()
        for (const engine of engines) {
          if (engine.isOpen() && engine.inFlight() === 0 && now - engine.lastActivity >= idleTimeout) {
            engine.closeGracefully()
          }
        }
      })
      yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(every))))
    }

    let shutdownDone: Deferred.Deferred<ShutdownResult> | undefined
    const shutdown = (deadline?: Duration.DurationInput): Effect.Effect<ShutdownResult> =>
      Effect.suspend(() => {
        if (shutdownDone !== undefined) return Deferred.await(shutdownDone)
        const done = Deferred.unsafeMake<ShutdownResult>(FiberId.none)
        shutdownDone = done
        const run = Effect.gen(function*() {
          yield* Effect.logInfo("shutting down: draining connections")
          yield* listener.close
          for (const engine of engines) engine.drain()
          const drained = yield* awaitNoConnections(millis(deadline ?? shutdownTimeout, defaults.shutdownTimeout))
          let forced = 0
          if (!drained) {
            forced = engines.size
            yield* Effect.logWarning(`shutdown deadline reached: closing ${forced} connection(s) with requests in flight`)
            for (const engine of engines) engine.finishClose()
            yield* FiberSet.clear(fibers)
          }
          yield* Effect.logInfo("shut down")
          return { drained, forced }
        })
        return Effect.flatMap(Effect.uninterruptible(run), (result) => Effect.as(Deferred.succeed(done, result), result))
      })

    yield* Effect.addFinalizer(() => shutdown())

    const server: ProtocolServer<Push> = {
      address: listener.address,
      groups,
      sessions: () => [...engines],
      stats: () => ({ ...stats }),
      shutdown
    }
    return server
  }) as any

/**
 * Listens on `options.address` with the current transport and serves
 * `protocol` with `handler`, until the scope closes (graceful shutdown).
 *
 * @example
 * ```ts
 * const server = yield* ProtocolServer.serve(Kv, handler, { address: { host: "127.0.0.1", port: 0 }, maxInFlight: 64 })
 * const client = yield* Client.make(Kv, server.address)
 * ```
 */
export const serve = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Effect.Effect<ProtocolServer<PushOf<P>>, ListenError, Transport | Scope.Scope | Requirements<R | RC>> =>
  Effect.flatMap(Transport, (transport) =>
    Effect.flatMap(
      transport.listen(options?.address ?? { host: "127.0.0.1", port: 0 }, options),
      (listener) => serveListener(listener, protocol, handler, options)
    ))

/**
 * The server as a Layer: listens when built; its release runs the graceful
 * shutdown (deadline: `shutdownTimeout`). With `Layer.launch` and
 * `NodeRuntime.runMain`, SIGINT/SIGTERM trigger that release.
 *
 * @example
 * ```ts
 * const Main = ProtocolServer.layer(Kv, handler, { address: { host: "0.0.0.0", port: 7000 } })
 * Layer.launch(Main).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
 * ```
 */
export const layer = <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
): Layer.Layer<never, ListenError, Transport | Requirements<R | RC>> =>
  Layer.scopedDiscard(
    Effect.tap(serve(protocol, handler, options), (server) =>
      Effect.logInfo(`${protocol.name}: listening on ${format(server.address)}`))
  )
