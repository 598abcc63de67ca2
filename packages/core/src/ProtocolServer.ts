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
 *   the protocol's "draining" notice → answer the requests already running;
 *   every request received and not started (waiting behind `maxInFlight`,
 *   pipelined in the socket, or sent before the peer saw the notice) is
 *   refused with a `ShuttingDown` fault, which a client may safely retry
 *   elsewhere; a connection closes once nothing is running on it and no byte
 *   has arrived for 100 ms → at the deadline, the connections still open are
 *   closed and their running handlers interrupted (their finalizers run): a
 *   client then sees those requests fail `Disconnected` (unanswered, maybe
 *   done), so keep the deadline above the longest request. `NodeRuntime.runMain` (from
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
import type { Duration, Effect, Layer, Scope, Stream } from "effect"
import type { YieldWrap } from "effect/Utils"
import type { Address } from "./Address.ts"
import type * as GroupsModule from "./Groups.ts"
import type * as InputBudget from "./InputBudget.ts"
import * as errors from "./internal/protocol/errors.ts"
import * as internalHandlers from "./internal/protocol/handlers.ts"
import * as internal from "./internal/protocol/serve.ts"
import type { Requirements } from "./internal/protocol/serve.ts"
import type {
  ErrorFor,
  ErrorOf,
  IsStream,
  OneWayOf,
  Protocol,
  ProtocolError,
  PushOf,
  RequestOf,
  ResponseOf,
  SuccessFor,
  TagOf,
  TraceContext
} from "./Protocol.ts"
import type { Session as SessionT } from "./Session.ts"
import type { Listener, ListenError, ListenOptions, Transport } from "./Transport.ts"

// ---------------------------------------------------------------------------
// handlers
// ---------------------------------------------------------------------------

/**
 * What a handler gets besides the message. One object per connection and
 * kind (do not keep it beyond the connection).
 *
 * @since 0.1.0
 * @category models
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
  /**
   * The caller's span, when the request carried one (see
   * {@link Protocol.TraceContext}): set while the handler is being called,
   * so middleware reads it when it wraps the handler (`Middleware.tracing`
   * makes it the parent of the server span).
   */
  readonly trace: TraceContext | undefined
  /**
   * The headers the request carried (`ClientOptions.headers`; empty when
   * none), set like `trace`: read them when the handler is called (an auth
   * middleware reads its token here).
   */
  readonly headers: Readonly<Record<string, string>>
  /**
   * When the read that carried the message was handled (`performance.now()`
   * milliseconds, one reading per read batch): the start of a message's
   * time in the server, for durations (`Middleware.logging`, `metrics`)
   * without a clock reading per message.
   */
  readonly receivedAt: number
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
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<In, Out, Err, R, Push = unknown> = (
  message: In,
  context: RequestContext<Push>
) => Effect.Effect<Out, Err, R>

/**
 * One handler of a {@link HandlerRecord}: the request of its method in, and
 * out either an Effect of the method's own success and error types, or a
 * generator (a `function*` or `*method() {}`, made once with the record,
 * stepped like `Effect.gen`); for a streaming method, a `Stream` of its items.
 *
 * @since 0.1.0
 * @category models
 */
export type MethodHandler<Q, A, E, Push, Streaming extends boolean = false> = (
  request: Q,
  context: RequestContext<Push>
) => [Streaming] extends [true] ? Stream.Stream<A, E | ProtocolError, any>
  : Effect.Effect<A, E | ProtocolError, any> | Generator<YieldWrap<Effect.Effect<any, E | ProtocolError, any>>, A, any>

/**
 * A handler per request tag of protocol `P` (every tag, no other key), each
 * typed by its method (see {@link Protocol.rpc}; for other protocols of
 * tagged requests, by the protocol's response and error types).
 *
 * @since 0.1.0
 * @category models
 */
export type HandlerRecord<P> = {
  readonly [Tag in TagOf<RequestOf<P>>]: MethodHandler<
    Extract<RequestOf<P>, { readonly _tag: Tag }>,
    SuccessFor<RequestOf<P>, { readonly _tag: Tag }, ResponseOf<P>>,
    ErrorFor<RequestOf<P>, { readonly _tag: Tag }, ErrorOf<P>>,
    PushOf<P>,
    IsStream<RequestOf<P>, { readonly _tag: Tag }>
  >
}

/**
 * The services the handlers of a record need.
 *
 * @since 0.1.0
 * @category type-level
 */
export type HandlerRecordContext<H> = {
  [K in keyof H]: H[K] extends (...args: any) => infer Out ? Out extends Effect.Effect<any, any, infer R> ? R
    : Out extends Stream.Stream<any, any, infer R> ? R
    : Out extends Generator<infer Y, any, any> ? Y extends YieldWrap<Effect.Effect<any, any, infer R>> ? R : never
    : never
    : never
}[keyof H]

/**
 * One handler from a handler per request tag, checked exhaustively: a
 * missing tag, an extra key, or a handler whose success or error type is not
 * its method's is a type error at that handler. Generator functions in the
 * record are made once, so they cost nothing per request to create (a
 * `function*` written inside a handler is a fresh function per request,
 * which some engines make slow).
 *
 * @example
 * ```ts
 * const handler = ProtocolServer.handlers(Kv, {
 *   *Get({ key }) {
 *     const store = yield* Store
 *     return store.get(key) ?? null
 *   },
 *   Put: ({ key, value }) => value.length > 128 ? Effect.fail(new TooLong({ max: 128 })) : Store.pipe(Effect.map((s) => s.set(key, value)))
 * })
 * yield* ProtocolServer.serve(Kv, pipe(handler, Middleware.timeout("5 seconds")), { address })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlers: <
  P extends Protocol<any, any, any, any, any>,
  H extends HandlerRecord<P> & { readonly [K in Exclude<keyof H, TagOf<RequestOf<P>>>]: never }
>(
  protocol: P,
  handlers: H
) => Handler<RequestOf<P>, ResponseOf<P>, ErrorOf<P> | ProtocolError, HandlerRecordContext<H>, PushOf<P>> =
  internalHandlers.handlers

/**
 * Request and one-way handlers together.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handlers<Req, Res, Err, OneWay, R, Push> {
  /** Requests (each gets a response). */
  readonly request: Handler<Req, Res, Err, R, Push>
  /** One-way messages (no response). Failures are logged. */
  readonly oneWay?: Handler<OneWay, unknown, unknown, R, Push> | undefined
}

/**
 * The handler `serve` accepts for protocol `P`: a request handler, or request and one-way handlers.
 *
 * @since 0.1.0
 * @category models
 */
export type HandlerFor<P, R> =
  | Handler<RequestOf<P>, ResponseOf<P>, ErrorOf<P> | ProtocolError, R, PushOf<P>>
  | Handlers<RequestOf<P>, ResponseOf<P>, ErrorOf<P> | ProtocolError, OneWayOf<P>, R, PushOf<P>>

/**
 * Connection-level middleware: an Effect run when a connection opens, before
 * its first message, with the {@link Session.Session} and {@link Groups.Groups}
 * services and the connection's `Scope` (finalizers run when the connection
 * ends). Failing with a {@link Protocol.ProtocolError} closes the connection
 * (logged). See `Middleware.ipFilter`, `Middleware.metrics`.
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectionMiddleware<R = never> = Effect.Effect<void, ProtocolError, R>

// ---------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------

/**
 * Counters of a server, since it started.
 *
 * @since 0.1.0
 * @category models
 */
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
  /** Requests the client cancelled while their handler ran (interrupted, not answered). */
  readonly cancelled: number
  /** Requests refused because the server was shutting down. */
  readonly refused: number
  /** Handlers that had to wait: the waiting rest ran on a fiber. */
  readonly forked: number
  /** Handlers that completed in place, without a fiber. */
  readonly inlined: number
  /** Connections closed because an incomplete message arrived slower than `minReadRate`. */
  readonly slowReads: number
  /** Bytes held now by incomplete messages across connections (see `maxBufferedInput`). */
  readonly bufferedInput: number
  /** Connections closed because the server's input budget (`maxBufferedInput`) was spent and they held the most. */
  readonly inputEvictions: number
}

/**
 * What {@link ProtocolServer.shutdown} did.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShutdownResult {
  /** Every connection closed on its own before the deadline. */
  readonly drained: boolean
  /** Connections closed at the deadline (their running handlers interrupted). */
  readonly forced: number
}

/**
 * A running protocol server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProtocolServer<Push = unknown> {
  /** The bound address (the real port for port 0). */
  readonly address: Address
  /** The broadcast groups (push to a group from outside a handler). */
  readonly groups: GroupsModule.Groups<Push>
  /** The open sessions (a snapshot). */
  readonly sessions: () => ReadonlyArray<SessionT<Push>>
  /** Counters and gauges of the server (a snapshot). */
  readonly stats: () => ServerStats
  /**
   * Graceful shutdown with a deadline (default: the `shutdownTimeout`
   * option). Idempotent: a second call waits for the first.
   */
  readonly shutdown: (deadline?: Duration.DurationInput) => Effect.Effect<ShutdownResult>
}

/**
 * Why a server closed a connection on its own.
 *
 * @since 0.1.0
 * @category errors
 */
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

/**
 * A connection closed by the server for a reason other than the peer's own end, as logged.
 *
 * @since 0.1.0
 * @category errors
 */
export const ProtocolServerError: typeof errors.ProtocolServerError = errors.ProtocolServerError

/**
 * A connection closed by the server (the instance type of {@link ProtocolServerError}).
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtocolServerError = errors.ProtocolServerError

/**
 * Options of {@link serve}. Listen options apply to the listener and every connection.
 *
 * @since 0.1.0
 * @category options
 */
export interface ServeOptions<RC = never> extends ListenOptions {
  /** Where to listen. Default `127.0.0.1:0` (a free port). */
  readonly address?: Address | undefined
  /** Requests (and one-way messages) handled at once per connection; then reading stops. Default 256. */
  readonly maxInFlight?: number | undefined
  /** Open connections past which new ones are accepted and closed at once. Default 10000. */
  readonly maxConnections?: number | undefined
  /**
   * Close a connection with nothing in flight and no byte either way for this long (a large
   * message arriving slowly is traffic; a peer that stops reading its replies is not).
   * Default 5 minutes; `Duration.infinity` disables.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * The window over which an incomplete message must gain at least `minReadRate` bytes per
   * second, else the connection is closed (a peer trickling a message byte by byte, as
   * nginx's `client_header_timeout`/`client_body_timeout` guard against). Default 30 seconds;
   * `Duration.infinity` disables.
   */
  readonly readTimeout?: Duration.DurationInput | undefined
  /** Bytes per second an incomplete message must keep up over each `readTimeout` window. Default 1024. */
  readonly minReadRate?: number | undefined
  /** Answer with a `Timeout` fault (and interrupt the handler) after this long. Default 30 seconds; `Duration.infinity` disables. */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /** The deadline of the shutdown run when the server's scope closes. Default 10 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /** Unsent bytes past which a push closes the (slow) peer instead of buffering more. Default 4 MiB. */
  readonly maxWriteBuffer?: number | undefined
  /**
   * Bytes all connections together may hold for incomplete messages (see
   * {@link InputBudget}); past it, connections holding part of a message are
   * paused, and while they wait the connection with the oldest incomplete
   * message is closed every 5 seconds. Default 16 MiB. A shared `InputBudget` may be passed instead (one bound for several servers).
   */
  readonly maxBufferedInput?: number | InputBudget.InputBudget | undefined
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
 *
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly maxInFlight: 256
  readonly maxConnections: 10000
  readonly idleTimeout: Duration.Duration
  readonly readTimeout: Duration.Duration
  readonly minReadRate: number
  readonly requestTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  readonly maxWriteBuffer: number
  readonly maxBufferedInput: number
} = internal.defaults

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
 *
 * @since 0.1.0
 * @category constructors
 */
export const serveListener: <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  listener: Listener,
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
) => Effect.Effect<ProtocolServer<PushOf<P>>, never, Scope.Scope | Requirements<R | RC>> = internal.serveListener

/**
 * Listens on `options.address` with the current transport and serves
 * `protocol` with `handler`, until the scope closes (graceful shutdown).
 *
 * @example
 * ```ts
 * const server = yield* ProtocolServer.serve(Kv, handler, { address: { host: "127.0.0.1", port: 0 }, maxInFlight: 64 })
 * const client = yield* Client.make(Kv, server.address)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve: <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
) => Effect.Effect<ProtocolServer<PushOf<P>>, ListenError, Transport | Scope.Scope | Requirements<R | RC>> =
  internal.serve

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
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: <P extends Protocol<any, any, any, any, any>, R = never, RC = never>(
  protocol: P,
  handler: HandlerFor<P, R>,
  options?: ServeOptions<RC>
) => Layer.Layer<never, ListenError, Transport | Requirements<R | RC>> = internal.layer
