/**
 * Protocol clients: a typed `request`, `send` for one-way messages, and the
 * stream of pushed messages, over one connection or a pool.
 *
 * ```
 *   request(req) ─▶ pick the least busy open connection ─▶ encode, write (coalesced per turn)
 *                ◀─ response matched in order (inOrder) or by id (byId)
 *   link drops   ─▶ every pending request fails with ClientError "Disconnected" (none hangs)
 *                ─▶ reconnect on the `reconnect` Schedule (reset once a link has carried traffic)
 *   server drains (its notice, or a first ShuttingDown refusal)
 *                ─▶ no new request on that connection; those in flight finish, then it closes
 *                ─▶ the pool opens a replacement at once (then per `reconnect`)
 *   refused ShuttingDown, or Disconnected when idempotent
 *                ─▶ sent again on another connection (`retry`), within the same deadline
 *   timeout / interruption ─▶ (byId) a cancel: the server interrupts that handler
 * ```
 *
 * One deadline per request (`requestTimeout`): waiting for a connection,
 * waiting to write, waiting for the response and any retries all count
 * against it; a `Timeout` error says which `phase` it ran out in.
 *
 * Bounded: a connection carries at most `pool.maxInFlight` requests (then a
 * request waits for capacity, up to `pool.acquireTimeout` and its deadline),
 * and once a connection's unsent bytes pass its `writeHighWaterMark` (a
 * server that reads slower than we write), `request` and `send` wait until it
 * drains.
 *
 * Errors: the protocol's typed error responses arrive as `Err`; everything
 * else is a {@link ClientError} with a `reason`. Faults sent by the server map
 * to `"Refused"` (not processed: overloaded, rate limited, shutting down) or
 * `"Remote"` (the server failed: timeout, defect, bad request), with the
 * {@link Protocol.ProtocolError} in `fault`.
 *
 * @example
 * ```ts
 * import { Client, Protocol } from "@wirekit/core"
 * import { Effect, Schedule, Stream } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const kv = yield* Client.make(Kv, { host: "127.0.0.1", port: 7000 }, {
 *     requestTimeout: "2 seconds",
 *     reconnect: Schedule.exponential("50 millis").pipe(Schedule.upTo("10 seconds")),
 *     pool: { size: 4, acquireTimeout: "1 second" },
 *     retry: { maxAttempts: 3, schedule: Schedule.exponential("20 millis") }
 *   })
 *   yield* kv.request({ _tag: "Put", key: "a", value: "1" })
 *   // safe to send again if the connection drops before the answer
 *   const value = yield* kv.request({ _tag: "Get", key: "a" }, { idempotent: true })
 * })
 * ```
 * @since 0.1.0
 */
import type { Context, Duration, Effect, Queue, Schedule, Scope, Stream } from "effect"
import { Layer } from "effect"
import type { Address } from "./Address.ts"
import type { Connection } from "./Connection.ts"
import * as internal from "./internal/protocol/client.ts"
import * as errors from "./internal/protocol/errors.ts"
import type {
  ErrorFor,
  ErrorOf,
  IsStream,
  OneWayOf,
  Protocol,
  PushOf,
  RequestOf,
  ResponseOf,
  SuccessFor
} from "./Protocol.ts"
import type { ConnectOptions, Transport } from "./Transport.ts"

/**
 * Why a client operation failed.
 *
 * - `Timeout`: the request's deadline (`timeout` ms, from when it was made) passed; `phase` says
 *   where: waiting for a connection, waiting to send, or waiting for the response.
 * - `Disconnected`: the link dropped with the request pending, or there is no link and none is coming.
 * - `PoolTimeout`: no connection with capacity within the pool's acquire timeout (when that is
 *   shorter than what is left of the request's deadline).
 * - `Connect`: the client could not connect at all (`cause`: the ConnectError).
 * - `Encode` / `Decode`: a message could not be encoded, or a response decoded.
 * - `Refused`: the server did not process the request (overloaded, rate limited, shutting down; see `fault`).
 * - `Remote`: the server failed to answer (see `fault`: Timeout, Internal, BadRequest, Unauthorized).
 *
 * @since 0.1.0
 * @category errors
 */
export type ClientErrorReason =
  | "Timeout"
  | "Disconnected"
  | "PoolTimeout"
  | "Connect"
  | "Encode"
  | "Decode"
  | "Refused"
  | "Remote"

/**
 * Where a request was when its deadline passed (`ClientError.phase`, reason `Timeout`):
 *
 * - `Acquire`: waiting for a connection (none open, all busy, or all draining).
 * - `Send`: waiting for the connection's unsent bytes to drain below its high-water mark.
 * - `Response`: sent, waiting for the answer (the server is told to cancel, byId).
 *
 * @since 0.1.0
 * @category errors
 */
export type ClientTimeoutPhase = "Acquire" | "Send" | "Response"

/**
 * A client failure other than the protocol's own error responses.
 *
 * @since 0.1.0
 * @category errors
 */
export const ClientError: typeof errors.ClientError = errors.ClientError

/**
 * A client failure (the instance type of {@link ClientError}).
 *
 * @since 0.1.0
 * @category errors
 */
export type ClientError = errors.ClientError

/**
 * Options of the connection pool.
 *
 * @since 0.1.0
 * @category options
 */
export interface PoolOptions {
  /** Connections. Default 1. */
  readonly size?: number | undefined
  /** Requests in flight per connection before a request waits for capacity. Default 4096. */
  readonly maxInFlight?: number | undefined
  /**
   * How long a request waits for a connection with capacity, at most: the
   * request's own deadline bounds the wait too (whichever comes first:
   * `PoolTimeout` or `Timeout` with phase `Acquire`). Default 5 seconds.
   */
  readonly acquireTimeout?: Duration.DurationInput | undefined
}

/**
 * When a request is sent again (see {@link ClientOptions.retry}). Only where
 * it is safe:
 *
 * - refused with a `ShuttingDown` fault: the server did not start it (always);
 * - failed `Disconnected`: the connection dropped with it pending, so it may
 *   have run; only for idempotent requests (`Protocol.method(..., { idempotent:
 *   true })`, {@link ClientOptions.idempotent}, or the request's own
 *   `idempotent` option), or ones that never reached the connection.
 *
 * A retry goes to another connection (a draining one takes no new requests)
 * and never past the request's deadline: a delay that would reach it ends the
 * retries, with the last error. The final error carries `attempts`.
 *
 * @since 0.1.0
 * @category options
 */
export interface RetryOptions {
  /** Attempts in all, the first one included. Default 3; 1 turns retries off. */
  readonly maxAttempts?: number | undefined
  /**
   * The delay before each retry (its input is the error; when it ends, so do
   * the retries). Runs on the Clock. Default: exponential from 20 ms, jittered.
   */
  readonly schedule?: Schedule.Schedule<unknown, ClientError> | undefined
}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category options
 */
export interface ClientOptions {
  /**
   * Per-request deadline, from the call to the answer: waiting for a
   * connection, waiting to send, the response and retries all count.
   * Default 30 seconds; `Duration.infinity` disables.
   */
  readonly requestTimeout?: Duration.DurationInput | undefined
  /**
   * When (and how often) to reconnect after a failed connect or a dropped
   * link. Default: never (a dropped connection stays down). The schedule
   * restarts once a connection has carried traffic. A connection the server
   * announced as draining is replaced at once (one attempt), then on this
   * schedule.
   */
  readonly reconnect?: Schedule.Schedule<unknown, unknown> | undefined
  /** Sending requests again where it is safe (see {@link RetryOptions}). Default: 3 attempts. */
  readonly retry?: RetryOptions | undefined
  /**
   * Which requests are idempotent (may be sent again after a `Disconnected`),
   * for protocols without per-method flags. Default: the protocol's
   * (`Protocol.method(..., { idempotent: true })`), else none. A request's own
   * `idempotent` option wins over both.
   */
  readonly idempotent?: ((request: unknown) => boolean) | undefined
  /** Several connections (see {@link PoolOptions}). Default: one. */
  readonly pool?: PoolOptions | undefined
  /** Transport options for each connection (connect timeout, noDelay, ...). */
  readonly connection?: ConnectOptions | undefined
  /**
   * Runs on each new connection before it carries requests: an exchange of
   * the protocol's own, such as STARTTLS (send the upgrade command, read the
   * reply, `framed.startTls({ client })`; read through a `Framed`, whose
   * `startTls` discards anything read past the reply). The requests then use
   * the connection as it left it, with a fresh decoder. It counts as part of
   * connecting: bounded by the connect timeout, and a failure fails that
   * connect like any other (`Connect` error, or the `reconnect` schedule),
   * with a `ConnectError` of reason `"Tls"` when a `Tls.TlsError` is behind it
   * (else `"Other"`) as its cause.
   *
   * @example
   * ```ts
   * const client = yield* Client.make(Smtp, address, {
   *   onConnect: (connection) => Effect.gen(function* () {
   *     const framed = Framed.make(connection, Lines.make())
   *     yield* framed.send(enc.encode("STARTTLS"))
   *     const reply = yield* framed.read
   *     if (reply === Connection.EOF || !dec.decode(reply).startsWith("220")) return yield* Effect.fail("no STARTTLS")
   *     yield* framed.startTls({ client: { ca, serverName: "mail.example.com" } })
   *   })
   * })
   * ```
   */
  readonly onConnect?: ((connection: Connection) => Effect.Effect<void, unknown>) | undefined
  /**
   * A span per request (kind "client", named `<protocol>.<method>`). Either
   * way a request made inside a span carries it (when the wire format can),
   * so that the server's span (`Middleware.tracing`) is its child. Default false.
   */
  readonly spans?: boolean | undefined
  /**
   * Headers sent with every request (an auth token, a tenant): fixed, or
   * computed per request (an Effect, e.g. reading a token that refreshes).
   * The server reads them as `context.headers` (wire formats that carry
   * them: `Protocol.schema`, `Protocol.rpc`; at most 32 short strings).
   */
  readonly headers?:
    | Readonly<Record<string, string>>
    | ((
      request: unknown
    ) => Readonly<Record<string, string>> | Effect.Effect<Readonly<Record<string, string>>, ClientError>)
    | undefined
}

/**
 * Live counters of a client.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientStats {
  /** Open connections. */
  readonly connected: number
  /** Requests waiting for a response. */
  readonly pending: number
  /** Successful connects (the first ones included). */
  readonly connects: number
  /** Open connections the server announced as draining (they finish what is in flight, take nothing new). */
  readonly draining: number
  /** Requests sent again (see {@link RetryOptions}). */
  readonly retries: number
  /**
   * Bytes written by requests and one-way messages but not yet handed to the
   * OS, over all connections. Bounded: once a connection is over its
   * `writeHighWaterMark`, `request` and `send` wait for it to drain.
   */
  readonly unsent: number
}

/**
 * Options of one {@link Client.request}.
 *
 * @since 0.1.0
 * @category options
 */
export interface RequestOptions {
  /** This request's deadline instead of `ClientOptions.requestTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Whether this request may be sent again after its connection dropped with
   * it pending (see {@link RetryOptions}); overrides the method's flag and
   * `ClientOptions.idempotent`.
   */
  readonly idempotent?: boolean | undefined
}

/**
 * A protocol client. Closed (with its connections) when its scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client<Req, Res, Err, OneWay, Push> {
  /**
   * Sends a request and waits for its response. With an {@link Protocol.rpc}
   * protocol the result has the types of the request's own method. Its
   * deadline (`timeout`, else `ClientOptions.requestTimeout`) covers
   * everything from this call on: waiting for a connection, waiting to send,
   * the response, and any retry (see {@link RetryOptions}).
   */
  request<Q extends Req>(
    request:
      & Q
      & (IsStream<Req, Q> extends true ? { readonly "a streaming method: read it with Client.stream": never }
        : unknown),
    options?: RequestOptions
  ): Effect.Effect<SuccessFor<Req, Q, Res>, ErrorFor<Req, Q, Err> | ClientError>
  /**
   * Sends a request of a streaming method (see `Protocol.method`) and reads
   * its items. The server sends at most a window of chunks ahead of what
   * this stream has consumed (a slow reader pauses the server's stream; the
   * buffer here is bounded); ending the stream early (`Stream.take`, an
   * interruption) cancels the server's. Its failure is the method's typed
   * error, or a `ClientError`.
   */
  stream<Q extends Req>(
    request:
      & Q
      & (IsStream<Req, Q> extends true ? unknown : { readonly "not a streaming method: use Client.request": never })
  ): Stream.Stream<SuccessFor<Req, Q, Res>, ErrorFor<Req, Q, Err> | ClientError>
  /**
   * Sends a one-way message: completes once it is written into the
   * connection's buffer, after waiting while that buffer is over its
   * high-water mark.
   */
  send(message: OneWay): Effect.Effect<void, ClientError>
  /** Messages pushed by the server from now on (each run of the stream subscribes anew). */
  readonly pushes: Stream.Stream<Push>
  /** A subscription to pushed messages, open for the scope: subscribe before triggering pushes. */
  readonly subscribe: Effect.Effect<Queue.Dequeue<Push>, never, Scope.Scope>
  /** Waits until at least one connection is open (or fails like a request would). */
  readonly awaitConnected: Effect.Effect<void, ClientError>
  /** Counters of the client (a snapshot). */
  readonly stats: () => ClientStats
}

/**
 * The client type of a protocol.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientFor<P> = Client<RequestOf<P>, ResponseOf<P>, ErrorOf<P>, OneWayOf<P>, PushOf<P>>

/**
 * Connects to `address` with the current transport. Succeeds once one
 * connection of the pool is open; fails with reason `Connect` if none can be
 * (after the reconnect schedule, if any, gave up).
 *
 * @example
 * ```ts
 * const client = yield* Client.make(Echo, server.address, { requestTimeout: "1 second" })
 * const answer = yield* client.request("hello")
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <P extends Protocol<any, any, any, any, any>>(
  protocol: P,
  address: Address,
  options?: ClientOptions
) => Effect.Effect<ClientFor<P>, ClientError, Transport | Scope.Scope> = internal.make

/**
 * A client as a Layer: connects when built (failing like {@link make}),
 * closes when released, so services depend on it the Effect way.
 *
 * @example
 * ```ts
 * class KvClient extends Context.Tag("app/KvClient")<KvClient, Client.ClientFor<typeof Kv>>() {}
 * const KvClientLive = Client.layer(KvClient, Kv, { host: "127.0.0.1", port: 7002 }, { requestTimeout: "2 seconds" })
 * const program = Effect.flatMap(KvClient, (kv) => kv.request(Get({ key: "a" })))
 * program.pipe(Effect.provide(KvClientLive), Effect.provide(NodeTransport.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, P extends Protocol<any, any, any, any, any>>(
  tag: Context.Tag<I, ClientFor<P>>,
  protocol: P,
  address: Address,
  options?: ClientOptions
): Layer.Layer<I, ClientError, Transport> => Layer.scoped(tag, make(protocol, address, options))
