/**
 * Protocols: one description of a request/response wire protocol, from which
 * wirekit builds a server ({@link ProtocolServer}), a client ({@link Client})
 * and tests.
 *
 * A protocol is codecs (a decoder of the peer's byte stream into messages and
 * encoders of messages into the output; usually a framing plus a codec per
 * message) and a correlation strategy:
 *
 * ```
 *   client ── request / one-way ──▶ server        (inbound:  client → server)
 *   client ◀── response / push ──── server        (outbound: server → client)
 *
 *   inOrder (pipelined):  many requests in flight, responses in request order
 *   byId (multiplexed):   an id in every request and its response, any order
 * ```
 *
 * Three ways to build one:
 *
 * - {@link schema}: Schema-typed requests, responses, errors, one-way and push
 *   messages in a standard JSON envelope over length-field framing (the
 *   envelope is documented on {@link schema}).
 * - {@link make}: your own wire format (e.g. a line-based chat): inbound and
 *   outbound {@link MessageCodec.MessageCodec}s plus small functions saying
 *   which inbound messages are one-way, which outbound ones are pushes or
 *   errors, and where the id lives.
 * - {@link custom}: your own stream codecs ({@link ServerCodec},
 *   {@link ClientCodec}), for wire formats where finding a message and
 *   parsing it are one step (RESP), or whose encoding depends on the
 *   connection's state (a protocol version the client chose).
 *
 * Failures that are not the handler's own typed errors (a bad frame, a
 * defect, a timeout, load shedding, shutdown) travel as a {@link ProtocolError}
 * ("fault") response.
 *
 * @example
 * ```ts
 * import { Protocol } from "@wirekit/core"
 * import { Schema } from "effect"
 *
 * const Get = Schema.TaggedStruct("Get", { key: Schema.String })
 * const Put = Schema.TaggedStruct("Put", { key: Schema.String, value: Schema.String })
 * const Kv = Protocol.schema({
 *   name: "kv",
 *   request: Schema.Union(Get, Put),
 *   response: Schema.NullOr(Schema.String),
 *   error: Schema.TaggedStruct("KeyTooLong", { max: Schema.Number }),
 *   correlation: "byId"
 * })
 * ```
 * @since 0.1.0
 */
import type { Schema } from "effect"
import type * as ByteBuffer from "./ByteBuffer.ts"
import type * as Codec from "./Codec.ts"
import type { Framing, FramingError } from "./Framing.ts"
import * as errors from "./internal/protocol/errors.ts"
import * as frames from "./internal/protocol/frames.ts"
import * as internal from "./internal/protocol/protocol.ts"
import * as internalSchema from "./internal/protocol/schema.ts"
import type { MessageCodec, MessageError } from "./MessageCodec.ts"
import type { Session } from "./Session.ts"

// ---------------------------------------------------------------------------
// faults
// ---------------------------------------------------------------------------

/**
 * Why the framework (not the handler's own logic) could not answer a request.
 *
 * - `BadRequest`: the message did not decode (bad JSON, schema mismatch, unknown kind).
 * - `Internal`: the handler died (a defect) or its response could not be encoded.
 * - `Timeout`: the per-request timeout elapsed.
 * - `Overloaded`: shed by a concurrency limit; not processed.
 * - `RateLimited`: over the connection's rate limit; not processed.
 * - `ShuttingDown`: the server is draining; not processed.
 * - `Unauthorized`: refused by an auth or handshake middleware; not processed.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtocolErrorReason =
  | "BadRequest"
  | "Internal"
  | "Timeout"
  | "Overloaded"
  | "RateLimited"
  | "ShuttingDown"
  | "Unauthorized"

/**
 * Every {@link ProtocolErrorReason}, for validation.
 *
 * ```ts
 * Protocol.protocolErrorReasons.includes(wire.reason) // a known fault reason?
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const protocolErrorReasons: ReadonlyArray<ProtocolErrorReason> = errors.protocolErrorReasons

/**
 * A fault response: the request failed for a reason outside the handler's
 * typed errors. A handler (or middleware) may fail with one on purpose; the
 * server then sends it as a fault instead of a protocol error response.
 *
 * @example
 * ```ts
 * import { Protocol } from "@wirekit/core"
 * import { Effect } from "effect"
 * const shed = Effect.fail(new Protocol.ProtocolError({ reason: "Overloaded", detail: "64 requests running" }))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const ProtocolError: typeof errors.ProtocolError = errors.ProtocolError

/**
 * A fault response (the instance type of {@link ProtocolError}).
 *
 * @since 0.1.0
 * @category errors
 */
export type ProtocolError = errors.ProtocolError

/**
 * True for the reasons where the server did not process the request (a retry may succeed).
 *
 * ```ts
 * Protocol.isRefusal("Overloaded") // true
 * Protocol.isRefusal("Timeout")    // false: the handler may have run
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const isRefusal: (reason: ProtocolErrorReason) => boolean = errors.isRefusal

// ---------------------------------------------------------------------------
// the compiled form
// ---------------------------------------------------------------------------

/**
 * How one request ended, as the server sends it and the client receives it.
 *
 * ```
 *   Success { value }      the handler's response
 *   Failure { error }      the handler's typed error, as the protocol's error response
 *   Fault   { fault }      a ProtocolError (bad input, defect, timeout, shedding, shutdown)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome<Res, Err> =
  | { readonly _tag: "Success"; readonly value: Res }
  | { readonly _tag: "Failure"; readonly error: Err }
  | { readonly _tag: "Fault"; readonly fault: ProtocolError }

/**
 * The caller's span as a request carries it across the connection (W3C
 * trace-context fields), so that the server's span is its child (see
 * `Middleware.tracing`).
 *
 * @since 0.1.0
 * @category models
 */
export interface TraceContext {
  /** The trace the caller's span belongs to. */
  readonly traceId: string
  /** The caller's span: the parent of the server's. */
  readonly spanId: string
  /** Whether the caller's trace is sampled. */
  readonly sampled: boolean
}

/**
 * What a request carries besides itself, for wire formats that can: the
 * caller's span, and headers a client adds per request (an auth token, a
 * tenant; see `ClientOptions.headers`), read by server middleware from the
 * request's context.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestMeta {
  /** The caller's span, when the request was made inside one. */
  readonly trace?: TraceContext | undefined
  /** Headers sent with the request (`ClientOptions.headers`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * A decoded client → server message.
 *
 * `Invalid` is a frame that did not decode; `id` is set when it could still
 * be read, and `oneWay` when the frame was recognisably a one-way message
 * (which never gets a response). `Cancel` (byId protocols): the client gave
 * up on request `id`; the server interrupts its handler and sends nothing.
 * `Ack`: the client consumed `n` more chunks of stream `id` (the server may
 * send that many more; see {@link StreamServerCodec}).
 *
 * @since 0.1.0
 * @category models
 */
export type Incoming<Req, OneWay> =
  | {
    readonly _tag: "Request"
    readonly request: Req
    readonly id: number | undefined
    /** What the request carried besides itself (the caller's span, headers). */
    readonly meta?: RequestMeta | undefined
  }
  | { readonly _tag: "OneWay"; readonly message: OneWay }
  | { readonly _tag: "Cancel"; readonly id: number }
  | { readonly _tag: "Ack"; readonly id: number; readonly n: number }
  | {
    readonly _tag: "Invalid"
    readonly error: ProtocolError
    readonly id: number | undefined
    readonly oneWay: boolean
  }

/**
 * A decoded server → client message. A streaming request is answered with
 * `Chunk`s of items, then `End` (or a `Response` carrying its failure).
 *
 * @since 0.1.0
 * @category models
 */
export type Outgoing<Res, Err, Push> =
  | { readonly _tag: "Response"; readonly id: number | undefined; readonly outcome: Outcome<Res, Err> }
  | { readonly _tag: "Chunk"; readonly id: number; readonly items: ReadonlyArray<unknown> }
  | { readonly _tag: "End"; readonly id: number }
  | { readonly _tag: "Push"; readonly message: Push }
  | { readonly _tag: "Draining" }
  | { readonly _tag: "Invalid"; readonly error: MessageError; readonly id: number | undefined }

/**
 * The server side of a protocol for one connection (made by
 * {@link Protocol.server}, once per connection): a decoder of the client's
 * byte stream into messages (boundaries and parsing in one), and encoders
 * that append the server's messages to the connection's output buffer.
 *
 * - `decoder` follows the {@link Codec.Decoder} contract: every complete
 *   message of a chunk is pushed; a stream it cannot decode any further is a
 *   `FramingError` (the connection is closed); a message that is only bad in
 *   itself is an `Invalid` item (answered with a `BadRequest` fault or closing
 *   the connection, by `onBadInput`).
 * - The encoders append to `out`, or return the error and write nothing. The
 *   server never keeps the outcome it passes to `encodeResponse` (a codec may
 *   not keep it either).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerCodec<Req, Res, Err, OneWay, Push> {
  readonly decoder: Codec.Decoder<Incoming<Req, OneWay>>
  /**
   * `request` is the request answered (absent for a message that did not
   * decode, or one refused before it was read): a codec whose encoding
   * depends on the request's kind (per-method schemas, see {@link rpc}) reads it.
   */
  encodeResponse(
    id: number | undefined,
    outcome: Outcome<Res, Err>,
    out: ByteBuffer.ByteBuffer,
    request?: Req | undefined
  ): EncodeError | undefined
  encodePush(message: Push, out: ByteBuffer.ByteBuffer): EncodeError | undefined
  /** The "server is draining" notice, when the protocol has one. */
  readonly encodeDraining: ((out: ByteBuffer.ByteBuffer) => EncodeError | undefined) | undefined
  /**
   * For encoders that stage bytes (a scratch area flushed once per batch):
   * called before the server writes its output, to append what is staged.
   */
  readonly flush?: ((out: ByteBuffer.ByteBuffer) => void) | undefined
  /** For protocols with streaming requests (byId only). */
  readonly streams?: StreamServerCodec<Req> | undefined
}

/**
 * The server side of streaming requests: which requests are answered with a
 * stream, and how chunks of its items and its end are written. Flow control:
 * the server sends at most {@link STREAM_WINDOW} chunks ahead of the client's
 * `Ack`s.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamServerCodec<Req> {
  isStream(request: Req): boolean
  encodeChunk(
    id: number,
    items: ReadonlyArray<unknown>,
    request: Req,
    out: ByteBuffer.ByteBuffer
  ): EncodeError | undefined
  encodeEnd(id: number, out: ByteBuffer.ByteBuffer): EncodeError | undefined
}

/**
 * The client side of streaming requests: acknowledging consumed chunks, and
 * decoding a chunk's items by the request they answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamClientCodec<Req> {
  encodeAck(id: number, n: number, out: ByteBuffer.ByteBuffer): EncodeError | undefined
  decodeItems(request: Req, items: ReadonlyArray<unknown>): ReadonlyArray<unknown> | MessageError
}

/**
 * Chunks a streaming response may have in flight before the client
 * acknowledges some (each chunk at most {@link STREAM_CHUNK_ITEMS} items):
 * what bounds the client's buffer of a stream it reads slowly.
 *
 * @since 0.1.0
 * @category models
 */
export const STREAM_WINDOW: number = 16

/**
 * Items per chunk of a streaming response, at most.
 *
 * @since 0.1.0
 * @category models
 */
export const STREAM_CHUNK_ITEMS: number = 256

/**
 * The client side of a protocol for one connection (made by {@link Protocol.client}).
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientCodec<Req, Res, Err, OneWay, Push> {
  readonly decoder: Codec.Decoder<Outgoing<Res, Err, Push>>
  /**
   * `id` is set for `byId` protocols; `meta` (the caller's span, headers) is
   * for wire formats that carry it. Appends to `out`, or returns the error and writes
   * nothing.
   */
  encodeRequest(
    request: Req,
    id: number | undefined,
    out: ByteBuffer.ByteBuffer,
    meta?: RequestMeta | undefined
  ): EncodeError | undefined
  encodeOneWay(message: OneWay, out: ByteBuffer.ByteBuffer): EncodeError | undefined
  /**
   * For byId wire formats that can say so: "the client gave up on request
   * `id`" (after a timeout or an interruption), so the server stops its work.
   */
  readonly encodeCancel?: ((id: number, out: ByteBuffer.ByteBuffer) => EncodeError | undefined) | undefined
  /**
   * For wire formats whose responses decode by the request they answer
   * (per-method schemas, see {@link rpc}): the decoder leaves `Success` and
   * `Failure` values in their wire form, and the client calls this once it
   * has matched the response to its request. A `MessageError` fails that
   * request with a `Decode` client error.
   */
  readonly decodeOutcome?:
    | ((request: Req, outcome: Outcome<unknown, unknown>) => Outcome<Res, Err> | MessageError)
    | undefined
  /** For protocols with streaming requests (byId only). */
  readonly streams?: StreamClientCodec<Req> | undefined
}

/**
 * Why a message could not be written: it has no encoding (`MessageError`), or
 * its bytes cannot be framed (`FramingError`, e.g. over the max frame length).
 *
 * @since 0.1.0
 * @category errors
 */
export type EncodeError = MessageError | FramingError

/**
 * The server side of a protocol over frames: one message per frame of the
 * protocol's framing (what {@link make} and {@link schema} build; see
 * {@link Codec.overFrames}). The server reads what `decode` returns at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameServerCodec<Req, Res, Err, OneWay, Push> {
  decode(frame: Uint8Array): Incoming<Req, OneWay>
  /** `request`: see {@link ServerCodec}. */
  encodeResponse(
    id: number | undefined,
    outcome: Outcome<Res, Err>,
    request?: Req | undefined
  ): Uint8Array | MessageError
  encodePush(message: Push): Uint8Array | MessageError
  /** The "server is draining" notice, when the protocol has one. */
  readonly encodeDraining: (() => Uint8Array | MessageError) | undefined
}

/**
 * The client side of a protocol over frames (see {@link FrameServerCodec}).
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameClientCodec<Req, Res, Err, OneWay, Push> {
  /** `id` is set for `byId` protocols; `meta`: see {@link ClientCodec}. */
  encodeRequest(request: Req, id: number | undefined, meta?: RequestMeta | undefined): Uint8Array | MessageError
  encodeOneWay(message: OneWay): Uint8Array | MessageError
  decode(frame: Uint8Array): Outgoing<Res, Err, Push>
}

/**
 * The server side of a protocol over `framing`, from a codec of one message
 * per frame.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serverOverFrames: <Req, Res, Err, OneWay, Push>(
  framing: Framing,
  codec: FrameServerCodec<Req, Res, Err, OneWay, Push>
) => ServerCodec<Req, Res, Err, OneWay, Push> = frames.serverOverFrames

/**
 * The client side of a protocol over `framing`, from a codec of one message
 * per frame.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientOverFrames: <Req, Res, Err, OneWay, Push>(
  framing: Framing,
  codec: FrameClientCodec<Req, Res, Err, OneWay, Push>
) => ClientCodec<Req, Res, Err, OneWay, Push> = frames.clientOverFrames

/**
 * What the server does with a frame that does not decode, or with a handler defect.
 *
 * @since 0.1.0
 * @category models
 */
export type FailurePolicy = "respond" | "close"

/**
 * A protocol description: the types of its messages, its framing and
 * correlation, and per-connection codecs. Build one with {@link schema} or
 * {@link make}.
 *
 * - `Req` / `Res` / `Err`: request, success response, typed error response.
 * - `OneWay`: client → server messages that get no response.
 * - `Push`: server → client messages sent unsolicited.
 *
 * @since 0.1.0
 * @category models
 */
export interface Protocol<Req, Res, Err = never, OneWay = never, Push = never> {
  /** The protocol's name, in logs, metrics and spans. */
  readonly name: string
  /** How responses find their requests: in request order, or by id (see {@link Correlation}). */
  readonly correlation: "inOrder" | "byId"
  /** Bad input: answer with a `BadRequest` fault (`"respond"`) or close the connection. */
  readonly onBadInput: FailurePolicy
  /** Handler defect: answer with an `Internal` fault (`"respond"`) or close the connection. */
  readonly onDefect: FailurePolicy
  /** A short name for a message, for logs, metrics and spans (default: its `_tag`, else the kind). */
  describe(message: Req | OneWay): string
  /**
   * Fresh server-side codec state for one connection. `session` is that
   * connection: an encoder may read its state (e.g. a protocol version the
   * client switched to with a command).
   */
  server(session: Session<Push>): ServerCodec<Req, Res, Err, OneWay, Push>
  /** Fresh client-side codec state (one per connection). */
  client(): ClientCodec<Req, Res, Err, OneWay, Push>
  /**
   * Whether a request may be sent again after its connection dropped with
   * it pending (running it twice does no harm): what `Client` retries on
   * `Disconnected`. {@link rpc} answers from its methods' `idempotent` flag.
   * Absent: no request is.
   */
  readonly isIdempotent?: ((request: Req) => boolean) | undefined
  /** Type-level only. */
  readonly Types?: {
    readonly Request: Req
    readonly Response: Res
    readonly Error: Err
    readonly OneWay: OneWay
    readonly Push: Push
  }
}

/**
 * Any protocol.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Protocol<any, any, any, any, any>

/**
 * The request type of a protocol.
 *
 * @since 0.1.0
 * @category type-level
 */
export type RequestOf<P> = P extends Protocol<infer Req, any, any, any, any> ? Req : never
/**
 * The success response type of a protocol.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ResponseOf<P> = P extends Protocol<any, infer Res, any, any, any> ? Res : never
/**
 * The typed error response type of a protocol.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ErrorOf<P> = P extends Protocol<any, any, infer Err, any, any> ? Err : never
/**
 * The one-way message type of a protocol.
 *
 * @since 0.1.0
 * @category type-level
 */
export type OneWayOf<P> = P extends Protocol<any, any, any, infer O, any> ? O : never
/**
 * The push message type of a protocol.
 *
 * @since 0.1.0
 * @category type-level
 */
export type PushOf<P> = P extends Protocol<any, any, any, any, infer Pu> ? Pu : never

// ---------------------------------------------------------------------------
// correlation
// ---------------------------------------------------------------------------

/**
 * Reads and writes the correlation id of one message type.
 *
 * @since 0.1.0
 * @category correlation
 */
export interface IdAccess<M> {
  readonly get: (message: M) => number | undefined
  readonly set: (message: M, id: number) => M
}

/**
 * How responses find their requests.
 *
 * ```
 *   inOrder:   req1 req2 req3  ───▶  res1 res2 res3   (in request order, whatever finishes first)
 *   byId:      req#7 req#8     ───▶  res#8 res#7      (as each completes)
 * ```
 *
 * @since 0.1.0
 * @category correlation
 */
export type Correlation<In, Out> =
  | { readonly _tag: "InOrder" }
  | { readonly _tag: "ById"; readonly request: IdAccess<In>; readonly response: IdAccess<Out> }

/**
 * Pipelined correlation: responses in request order.
 *
 * @example
 * ```ts
 * Protocol.make({ framing, inbound, outbound, correlation: Protocol.inOrder })
 * ```
 *
 * @since 0.1.0
 * @category correlation
 */
export const inOrder: Correlation<any, any> = internal.inOrder

/**
 * Multiplexed correlation: an id read from and written into the messages,
 * either a field name (objects: the field is copied into a new object) or a
 * function pair for each direction.
 *
 * @example
 * ```ts
 * Protocol.byId("id")
 * Protocol.byId({
 *   request: { get: (m) => m.seq, set: (m, seq) => ({ ...m, seq }) },
 *   response: { get: (m) => m.seq, set: (m, seq) => ({ ...m, seq }) }
 * })
 * ```
 *
 * @since 0.1.0
 * @category correlation
 */
export const byId: {
  (field: string): Correlation<any, any>
  <In, Out>(access: { readonly request: IdAccess<In>; readonly response: IdAccess<Out> }): Correlation<In, Out>
} = internal.byId

// ---------------------------------------------------------------------------
// codecs
// ---------------------------------------------------------------------------

/**
 * A pass-through message codec: the message is the frame itself. Decoded
 * messages are views into the received bytes: do not mutate them.
 *
 * @example
 * ```ts
 * const Echo = Protocol.make({ framing: LengthField.make(), inbound: Protocol.bytes, outbound: Protocol.bytes })
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const bytes: MessageCodec<Uint8Array> = internal.bytes

// ---------------------------------------------------------------------------
// make: user wire formats
// ---------------------------------------------------------------------------

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category options
 */
export interface MakeOptions<In, Out, OneWay extends In, Push extends Out, Err extends Out> {
  /** The protocol's name, in logs, metrics and spans. Default `"protocol"`. */
  readonly name?: string | undefined
  /** How the byte stream is cut into frames, one message each (`Lines.make()`, `LengthField.make(...)`, ...). */
  readonly framing: Framing
  /** Client → server messages (requests and one-way). */
  readonly inbound: MessageCodec<In>
  /** Server → client messages (responses, error responses, pushes). */
  readonly outbound: MessageCodec<Out>
  /** Which inbound messages are one-way (no response). Default: none. */
  readonly isOneWay?: ((message: In) => message is OneWay) | undefined
  /** Which outbound messages are pushes (client side). Default: none. */
  readonly isPush?: ((message: Out) => message is Push) | undefined
  /** Which outbound messages are error responses (client side). Default: none. */
  readonly isError?: ((message: Out) => message is Err) | undefined
  /**
   * How a {@link ProtocolError} is written as an error response, and (client
   * side, optional) recognised again. Without `encode`, bad input and defects
   * close the connection instead of being answered.
   */
  readonly fault?: {
    readonly encode: (fault: ProtocolError) => Err
    readonly decode?: ((error: Err) => ProtocolError | undefined) | undefined
  } | undefined
  /** The optional "server is draining" notice sent to every peer when shutdown starts. */
  readonly draining?: { readonly message: Out; readonly is: (message: Out) => boolean } | undefined
  /** Default {@link inOrder}. */
  readonly correlation?: Correlation<In, Out> | undefined
  /** Default `"respond"` when `fault` is given, else `"close"`. */
  readonly onBadInput?: FailurePolicy | undefined
  /** Default `"respond"` when `fault` is given, else `"close"`. */
  readonly onDefect?: FailurePolicy | undefined
  /** A short name per message for logs/metrics/spans. */
  readonly describe?: ((message: In) => string) | undefined
}

/**
 * A protocol on your own wire format. Requests are the inbound messages that
 * are not one-way; success responses are the outbound messages that are
 * neither errors nor pushes (so type guards give precise types).
 *
 * @example
 * ```ts
 * import { Lines, MessageCodec, Protocol } from "@wirekit/core"
 *
 * // a line chat: "SAY hi" is one-way, "JOIN room" → "OK ..." | "ERR ...", pushes start with "*"
 * const Chat = Protocol.make({
 *   name: "chat",
 *   framing: Lines.make(),
 *   inbound: MessageCodec.text(),
 *   outbound: MessageCodec.text(),
 *   isOneWay: (line): line is `SAY ${string}` => line.startsWith("SAY "),
 *   isPush: (line): line is `* ${string}` => line.startsWith("* "),
 *   isError: (line): line is `ERR ${string}` => line.startsWith("ERR "),
 *   fault: { encode: (f) => `ERR ${f.reason}` as const }
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: <In, Out, OneWay extends In = never, Push extends Out = never, Err extends Out = never>(
  options: MakeOptions<In, Out, OneWay, Push, Err>
) => Protocol<Exclude<In, OneWay>, Exclude<Out, Err | Push>, Err, OneWay, Push> = internal.make

/**
 * Options of {@link custom}.
 *
 * @since 0.1.0
 * @category options
 */
export interface CustomOptions<Req, Res, Err, OneWay, Push> {
  /** The protocol's name, in logs, metrics and spans. Default `"protocol"`. */
  readonly name?: string | undefined
  /** Default `"inOrder"`. */
  readonly correlation?: "inOrder" | "byId" | undefined
  /** Default `"close"`. With `"respond"`, the fault is given to `encodeResponse`. */
  readonly onBadInput?: FailurePolicy | undefined
  /** Default `"close"`. */
  readonly onDefect?: FailurePolicy | undefined
  /** A short name per message for logs/metrics/spans (default: its `_tag`, else the kind). */
  readonly describe?: ((message: Req | OneWay) => string) | undefined
  /** The server side for one connection (its `Session` is given: encoders may read its state). */
  readonly server: (session: Session<Push>) => ServerCodec<Req, Res, Err, OneWay, Push>
  /** The client side for one connection. Without it, `Client.make` fails to encode anything. */
  readonly client?: (() => ClientCodec<Req, Res, Err, OneWay, Push>) | undefined
}

/**
 * A protocol from stream codecs of your own: a decoder of the client's bytes
 * into messages and encoders that append replies to the connection's output
 * buffer.
 *
 * @example
 * ```ts
 * import { Protocol } from "@wirekit/core"
 *
 * // one byte per request, its double as the reply: no framing at all
 * const Doubler = Protocol.custom<number, number>({
 *   name: "doubler",
 *   server: () => ({
 *     decoder: {
 *       decode: (chunk, out) => {
 *         for (const b of chunk) out.push({ _tag: "Request", request: b, id: undefined })
 *         return undefined
 *       },
 *       finish: () => undefined,
 *       buffered: 0
 *     },
 *     encodeResponse: (_id, outcome, out) => {
 *       out.writeUint8(outcome._tag === "Success" ? outcome.value & 0xff : 0)
 *       return undefined
 *     },
 *     encodePush: () => undefined,
 *     encodeDraining: undefined
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom: <Req, Res, Err = never, OneWay = never, Push = never>(
  options: CustomOptions<Req, Res, Err, OneWay, Push>
) => Protocol<Req, Res, Err, OneWay, Push> = internal.custom

// ---------------------------------------------------------------------------
// schema: the standard JSON envelope
// ---------------------------------------------------------------------------

/**
 * What {@link schema} and {@link rpc} share: the one-way and push schemas,
 * correlation, framing, failure policies, and how the JSON envelope is
 * serialized.
 *
 * @since 0.1.0
 * @category options
 */
export interface EnvelopeOptions<Req, OneWay, OneWayI, Push, PushI> {
  /** The protocol's name, in logs, metrics and spans. Default `"protocol"`. */
  readonly name?: string | undefined
  /** Client messages that get no response (`Client.send`). Default: none. */
  readonly oneWay?: Schema.Schema<OneWay, OneWayI, never> | undefined
  /** Server pushes (`Session.push`, `Groups.broadcast`; `Client.pushes`). Default: none. */
  readonly push?: Schema.Schema<Push, PushI, never> | undefined
  /** Default `"byId"`. */
  readonly correlation?: "inOrder" | "byId" | undefined
  /** Default: 4-byte big-endian length field, 8 MiB max frame. */
  readonly framing?: Framing | undefined
  /** Default `"respond"`. */
  readonly onBadInput?: FailurePolicy | undefined
  /** Default `"respond"`. */
  readonly onDefect?: FailurePolicy | undefined
  /** A short name per message for logs, metrics and spans (default: its `_tag`, else the kind). */
  readonly describe?: ((message: Req | OneWay) => string) | undefined
  /**
   * What a `BadRequest` fault tells the peer about a message that does not
   * match the schema: `"issue"` (default) the first issue and its path,
   * bounded; `"none"` nothing beyond "does not match"; `"full"` Schema's
   * whole message (it spells out the schema: for development).
   */
  readonly badRequestDetail?: "issue" | "none" | "full" | undefined
  /**
   * How each envelope is serialized: JSON (default) or any message codec,
   * e.g. MessagePack (`Msgpack.msgpack` from `@wirekit/core/msgpack`). The
   * envelope's fields and the schemas are the same; only the bytes differ.
   */
  readonly serialization?: MessageCodec<unknown> | undefined
}

/**
 * Options of {@link schema}.
 *
 * @since 0.1.0
 * @category options
 */
export interface SchemaOptions<Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>
  extends EnvelopeOptions<Req, OneWay, OneWayI, Push, PushI>
{
  /** Requests (a union of tagged structs, typically). */
  readonly request: Schema.Schema<Req, ReqI, never>
  /** Success responses. */
  readonly response: Schema.Schema<Res, ResI, never>
  /** Typed error responses (a handler's failures). Default: none. */
  readonly error?: Schema.Schema<Err, ErrI, never> | undefined
}

/**
 * A Schema-typed protocol with the standard JSON envelope, one JSON document
 * per frame (default framing: 4-byte length field):
 *
 * ```
 *   client → server   {"id":1,"request":<Req>}         {"message":<OneWay>}
 *                     {"id":1,"cancel":true}   (byId: the client gave up on request 1)
 *   a request may carry its caller's span:  "trace":{"traceId":"…","spanId":"…","sampled":true}
 *   and headers (at most 32, short strings): "headers":{"authorization":"Bearer …"}
 *   server → client   {"id":1,"success":<Res>}         {"id":1,"failure":<Err>}
 *                     {"id":1,"fault":{"reason":"Timeout","detail":"..."}}
 *                     {"push":<Push>}                  {"draining":true}
 * ```
 *
 * `id` is present with `correlation: "byId"` (the default) and absent with
 * `"inOrder"`. A request whose body does not match the schema is answered
 * with a `BadRequest` fault carrying the parse error (the id is still read),
 * and does not affect the next message.
 *
 * @example
 * ```ts
 * const Echo = Protocol.schema({ request: Schema.String, response: Schema.String })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const schema: <
  Req,
  ReqI,
  Res,
  ResI,
  Err = never,
  ErrI = never,
  OneWay = never,
  OneWayI = never,
  Push = never,
  PushI = never
>(
  options: SchemaOptions<Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>
) => Protocol<Req, Res, Err, OneWay, Push> = internalSchema.schema

// ---------------------------------------------------------------------------
// rpc: a schema per method
// ---------------------------------------------------------------------------

/**
 * The type-level key under which a method's request carries its result
 * types (no value exists at run time): it is what gives
 * `client.request(Get({ key }))` exactly `Get`'s success and error types.
 *
 * @since 0.1.0
 * @category rpc
 */
export declare const ResultTypeId: unique symbol

/**
 * The type of {@link ResultTypeId}.
 *
 * @since 0.1.0
 * @category rpc
 */
export type ResultTypeId = typeof ResultTypeId

/**
 * The result types of a method (type-level).
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Result<A, E, Streaming extends boolean = false> {
  /** The success (of a streaming method: each item of its stream). */
  readonly success: A
  /** The typed error. */
  readonly error: E
  /** Whether the method answers with a stream. */
  readonly stream: Streaming
}

/**
 * A request of a method: a plain object with the method's `_tag` and its
 * payload's fields, carrying the method's result types at the type level.
 *
 * @since 0.1.0
 * @category rpc
 */
export type MethodRequest<Tag extends string, Payload, A, E, Streaming extends boolean = false> =
  & { readonly _tag: Tag }
  & Payload
  & { readonly [ResultTypeId]?: Result<A, E, Streaming> | undefined }

/**
 * A schema a method's success or error can have: any schema without
 * requirements (`Schema.Never` included).
 *
 * @since 0.1.0
 * @category rpc
 */
export type MethodSchema = Schema.Schema<any, any, never> | Schema.Schema<never, never, never>

/**
 * One method of an {@link rpc} protocol: its tag, its payload's fields and
 * the schemas of its success and its typed error. Calling it makes a request
 * (`Get({ key: "a" })` is `{ _tag: "Get", key: "a" }`, typed with `Get`'s
 * results); the request is validated when it is encoded, not here.
 *
 * @since 0.1.0
 * @category rpc
 */
export interface Method<
  Tag extends string,
  Fields extends Schema.Struct.Fields,
  Success extends MethodSchema,
  Error extends MethodSchema,
  Streaming extends boolean = false
> {
  (
    ...payload: {} extends Schema.Struct.Constructor<Fields> ? [payload?: Schema.Struct.Constructor<Fields>]
      : [payload: Schema.Struct.Constructor<Fields>]
  ): MethodRequest<Tag, Schema.Struct.Type<Fields>, Schema.Schema.Type<Success>, Schema.Schema.Type<Error>, Streaming>
  /** The method's name: its requests' `_tag`. */
  readonly tag: Tag
  /** The request's fields (Schema struct fields). */
  readonly payload: Fields
  /** The success schema (of a streaming method: of each item). */
  readonly success: Success
  /** The typed error schema (`Schema.Never`: none). */
  readonly error: Error
  /** The method answers with a stream of `success` items (`Client.stream`), not one value. */
  readonly stream: Streaming
  /**
   * Running a request of this method twice does no harm (a read, a put of
   * the same value): a client may send it again after its connection
   * dropped with it pending (see `ClientOptions.retry`).
   */
  readonly idempotent: boolean
  /** The request's schema: `Schema.TaggedStruct(tag, payload)`. */
  readonly request: Schema.TaggedStruct<Tag, Fields>
}

/**
 * Types derived from methods: `Method.Any`, and a method's `Request`,
 * `Success` and `Error` types.
 *
 * @since 0.1.0
 * @category rpc
 */
export declare namespace Method {
  /**
   * Any method.
   *
   * @since 0.1.0
   * @category type-level
   */
  export interface Any {
    readonly tag: string
    readonly payload: Schema.Struct.Fields
    readonly success: MethodSchema
    readonly error: MethodSchema
    readonly stream: boolean
    readonly idempotent?: boolean | undefined
    readonly request: Schema.Schema.Any
  }
  /**
   * The request type of a method (distributes over a union of methods).
   *
   * @since 0.1.0
   * @category type-level
   */
  export type Request<M> = M extends Method<infer Tag, infer Fields, infer S, infer E, infer Streaming>
    ? MethodRequest<Tag, Schema.Struct.Type<Fields>, Schema.Schema.Type<S>, Schema.Schema.Type<E>, Streaming>
    : never
  /**
   * The success type of a method.
   *
   * @since 0.1.0
   * @category type-level
   */
  export type Success<M> = M extends Method<any, any, infer S, any, infer Streaming> ? Streaming extends true ? never
    : Schema.Schema.Type<S>
    : never
  /**
   * The typed error of a method.
   *
   * @since 0.1.0
   * @category type-level
   */
  export type Error<M> = M extends Method<any, any, any, infer E, any> ? Schema.Schema.Type<E> : never
}

/**
 * Defines a method: a tag, a payload (Schema struct fields; default none), a
 * success schema (default `Schema.Void`) and a typed error schema (default
 * `Schema.Never`). With `stream: true` the method answers with a stream of
 * `success` items: its handler returns a `Stream`, the client reads it with
 * `Client.stream`, with flow control end to end (a byId protocol only).
 * With `idempotent: true` a client may send a request again after its
 * connection dropped with it pending (see `ClientOptions.retry`).
 *
 * @example
 * ```ts
 * const Get = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.NullOr(Schema.String) })
 * const Put = Protocol.method("Put", { payload: { key: Schema.String, value: Schema.String }, error: TooLong })
 * const Scan = Protocol.method("Scan", { payload: { prefix: Schema.String }, success: Schema.String, stream: true })
 * const Size = Protocol.method("Size", { success: Schema.Number, idempotent: true })
 * ```
 *
 * @since 0.1.0
 * @category rpc
 */
export const method: <
  const Tag extends string,
  Fields extends Schema.Struct.Fields = {},
  Success extends MethodSchema = typeof Schema.Void,
  Error extends MethodSchema = typeof Schema.Never,
  const Streaming extends boolean = false
>(
  tag: Tag,
  options?: {
    readonly payload?: Fields | undefined
    readonly success?: Success | undefined
    readonly error?: Error | undefined
    readonly stream?: Streaming | undefined
    readonly idempotent?: boolean | undefined
  }
) => Method<Tag, Fields, Success, Error, Streaming> = internalSchema.method

/**
 * Options of {@link rpc}: the methods, and the envelope's options.
 *
 * @since 0.1.0
 * @category rpc
 */
export interface RpcOptions<Methods extends ReadonlyArray<Method.Any>, OneWay, OneWayI, Push, PushI>
  extends EnvelopeOptions<Method.Request<Methods[number]>, OneWay, OneWayI, Push, PushI>
{
  /** The methods, each made with {@link method} (their tags must differ). */
  readonly methods: Methods
}

/**
 * A protocol of methods, each with its own payload, success and error
 * schemas, in the JSON envelope of {@link schema} (the request is the
 * method's tagged struct; the response is encoded with the schemas of the
 * method it answers):
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Get","key":"a"}}    ← {"id":1,"success":"1"}
 *   → {"id":2,"request":{"_tag":"Put","key":"a","value":"…"}}
 *                                                     ← {"id":2,"failure":{"_tag":"TooLong","max":128}}
 * ```
 *
 * A success that encodes to `undefined` (`Schema.Void`) travels as `null`.
 * Serve it with handlers per method (`ProtocolServer.handlers`); a client's
 * `request(Get({ key }))` has exactly `Get`'s success and error types.
 *
 * @example
 * ```ts
 * const Kv = Protocol.rpc({ name: "kv", methods: [Get, Put] })
 * ```
 *
 * @since 0.1.0
 * @category rpc
 */
export const rpc: <
  const Methods extends ReadonlyArray<Method.Any>,
  OneWay = never,
  OneWayI = never,
  Push = never,
  PushI = never
>(
  options: RpcOptions<Methods, OneWay, OneWayI, Push, PushI>
) => Protocol<
  Method.Request<Methods[number]>,
  Method.Success<Methods[number]>,
  Method.Error<Methods[number]>,
  OneWay,
  Push
> = internalSchema.rpc

/**
 * The tag of a tagged message type (`never` for untagged ones).
 *
 * @since 0.1.0
 * @category type-level
 */
export type TagOf<Q> = Q extends { readonly _tag: infer T extends string } ? T : never

/**
 * The result types carried by the requests among `M` (see {@link ResultTypeId}).
 *
 * @since 0.1.0
 * @category type-level
 */
export type ResultOf<M> = M extends unknown ? ResultTypeId extends keyof M ? Exclude<M[ResultTypeId], undefined> : never
  : never

/**
 * The success type of request `Q` in a protocol of requests `Req` and
 * responses `Res`: its method's success type, or `Res` when the protocol's
 * requests carry no per-method types.
 *
 * @since 0.1.0
 * @category type-level
 */
export type SuccessFor<Req, Q, Res> = [ResultOf<Extract<Req, { readonly _tag: TagOf<Q> }>>] extends [never] ? Res
  : ResultOf<Extract<Req, { readonly _tag: TagOf<Q> }>> extends Result<infer A, any, any> ? A
  : never

/**
 * Whether request `Q` is of a streaming method (`true`), of a method that
 * answers once (`false`), or of a protocol without per-method types (`false`).
 *
 * @since 0.1.0
 * @category type-level
 */
export type IsStream<Req, Q> = ResultOf<Extract<Req, { readonly _tag: TagOf<Q> }>> extends Result<any, any, infer S> ? S
  : false

/**
 * The typed error of request `Q` (see {@link SuccessFor}).
 *
 * @since 0.1.0
 * @category type-level
 */
export type ErrorFor<Req, Q, Err> = [ResultOf<Extract<Req, { readonly _tag: TagOf<Q> }>>] extends [never] ? Err
  : ResultOf<Extract<Req, { readonly _tag: TagOf<Q> }>> extends Result<any, infer E, any> ? E
  : never
