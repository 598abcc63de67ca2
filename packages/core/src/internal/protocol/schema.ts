/**
 * The implementations of `Protocol.schema` and `Protocol.rpc`: Schema-typed
 * messages in the standard JSON envelope (documented on `Protocol.schema`).
 * Both are one envelope; they differ in where a response's schemas come
 * from: the protocol's (`schema`) or the method of the request answered
 * (`rpc`: the server picks them by the request's tag, the client decodes a
 * response once it knows its request).
 */
import { Either, ParseResult, Schema } from "effect"
import type * as ByteBuffer from "../../ByteBuffer.ts"
import { mapDecoder } from "../../Codec.ts"
import { FramingError } from "../../Framing.ts"
import * as LengthField from "../../LengthField.ts"
import { MessageError } from "../../MessageCodec.ts"
import type { MessageCodec } from "../../MessageCodec.ts"
import type {
  ClientCodec,
  EncodeError,
  EnvelopeOptions,
  FrameClientCodec,
  FrameServerCodec,
  Incoming,
  Method,
  MethodSchema,
  Outcome,
  Outgoing,
  Protocol,
  ProtocolErrorReason,
  RequestMeta,
  RpcOptions,
  SchemaOptions,
  ServerCodec,
  StreamClientCodec,
  StreamServerCodec,
  TraceContext
} from "../../Protocol.ts"
import * as FastSchema from "../fastSchema.ts"
import { ProtocolError, protocolErrorReasons } from "./errors.ts"
import { clientOverFrames, serverOverFrames } from "./frames.ts"
import { describeRequest } from "./protocol.ts"

type Parse = (u: unknown) => Either.Either<unknown, ParseResult.ParseError>
const decoderOf = (schema: MethodSchema): Parse =>
  FastSchema.decodeUnknownEither(schema as Schema.Schema<any, any, never>)
const encoderOf = (schema: MethodSchema): Parse =>
  FastSchema.encodeEither(schema as Schema.Schema<any, any, never>) as Parse

const utf8 = new TextEncoder()
/** The envelope's JSON text (encoded into bytes by the framing path in use). */
const json = (value: unknown): string | MessageError => {
  try {
    return JSON.stringify(value)
  } catch (error) {
    return new MessageError({ reason: "Encode", codec: "json-envelope", detail: String(error), cause: error })
  }
}
/** An envelope as it goes out: JSON text, bytes of another serialization, or why it could not be encoded. */
type Wire = string | Uint8Array | MessageError
const bytesOf = (wire: Wire): Uint8Array | MessageError => typeof wire === "string" ? utf8.encode(wire) : wire

const MAX_FRAME = LengthField.DEFAULT_MAX_FRAME_LENGTH
/**
 * The default framing's encoding, straight into the output: a 4-byte
 * big-endian length, then the UTF-8 text (no intermediate array per message).
 * Over the limit: the same `FrameTooLarge` error the framing would give.
 */
const lengthPrefixed = (text: Wire, out: ByteBuffer.ByteBuffer): EncodeError | undefined => {
  if (typeof text !== "string") return text instanceof Uint8Array ? lengthPrefixedBytes(text, out) : text
  const start = out.length
  out.writeUint32BE(0)
  const n = out.writeUtf8(text)
  if (n > MAX_FRAME) {
    out.truncate(start)
    return new FramingError({ reason: "FrameTooLarge", codec: "LengthField", limit: MAX_FRAME, actual: n })
  }
  out.setUint32BE(start, n)
  return undefined
}

const lengthPrefixedBytes = (bytes: Uint8Array, out: ByteBuffer.ByteBuffer): EncodeError | undefined => {
  if (bytes.length > MAX_FRAME) {
    return new FramingError({ reason: "FrameTooLarge", codec: "LengthField", limit: MAX_FRAME, actual: bytes.length })
  }
  out.writeUint32BE(bytes.length)
  out.writeBytes(bytes)
  return undefined
}

/** One connection's envelope serialization: JSON text (the default) or a `MessageCodec`'s bytes. */
interface WireCodec {
  encode(value: unknown): Wire
  /** The envelope object, or why the frame is not one. */
  parse(frame: Uint8Array): Record<string, unknown> | string
}
const jsonWire = (): WireCodec => {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  return {
    encode: json,
    parse: (frame) => {
      let value: unknown
      try {
        value = JSON.parse(decoder.decode(frame))
      } catch (error) {
        return error instanceof Error ? error.message : String(error)
      }
      return isObject(value) ? value : "not a JSON object"
    }
  }
}
const codecWire = (codec: MessageCodec<unknown>): WireCodec => {
  const encode = codec.encoder()
  const decode = codec.decoder()
  return {
    encode: (value) => {
      const r = encode(value)
      return r._tag === "Right" ? r.right : r.left
    },
    parse: (frame) => {
      const r = decode(frame)
      if (r._tag === "Left") return r.left.detail
      return isObject(r.right) ? r.right : `not a ${codec.name} map`
    }
  }
}

/** The per-frame codecs of the envelope, with JSON text where frame bytes go. */
type TextServerCodec<Req, Res, Err, OneWay, Push> = {
  readonly [K in keyof FrameServerCodec<Req, Res, Err, OneWay, Push>]: K extends "decode"
    ? FrameServerCodec<Req, Res, Err, OneWay, Push>[K]
    : (...args: Parameters<NonNullable<FrameServerCodec<Req, Res, Err, OneWay, Push>[K]>>) => Wire
}
type TextClientCodec<Req, Res, Err, OneWay, Push> = {
  readonly [K in keyof FrameClientCodec<Req, Res, Err, OneWay, Push>]: K extends "decode"
    ? FrameClientCodec<Req, Res, Err, OneWay, Push>[K]
    : (...args: Parameters<FrameClientCodec<Req, Res, Err, OneWay, Push>[K]>) => Wire
}
const issue = (error: { readonly message: string }): string => error.message
const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const readId = (o: Record<string, unknown>): number | undefined => (typeof o.id === "number" ? o.id : undefined)

/** Trace ids as W3C trace-context has them (hex, 32 and 16 digits); anything else is ignored. */
const TRACE_ID = /^[0-9a-f]{32}$/
const SPAN_ID = /^[0-9a-f]{16}$/
const traceOf = (u: unknown): TraceContext | undefined => {
  if (!isObject(u)) return undefined
  const { sampled, spanId, traceId } = u
  if (typeof traceId !== "string" || typeof spanId !== "string" || typeof sampled !== "boolean") return undefined
  return TRACE_ID.test(traceId) && SPAN_ID.test(spanId) ? { traceId, spanId, sampled } : undefined
}

/** Headers a request may carry: a few short strings (a peer cannot make the server keep much). */
const MAX_HEADERS = 32
const MAX_HEADER_NAME = 64
const MAX_HEADER_VALUE = 4096
const invalidHeaders = (u: unknown): string | undefined => {
  if (!isObject(u)) return "headers must be an object of strings"
  let n = 0
  for (const name in u) {
    if (++n > MAX_HEADERS) return `at most ${MAX_HEADERS} headers`
    const value = u[name]
    if (typeof value !== "string") return `header ${name.slice(0, MAX_HEADER_NAME)} is not a string`
    if (name.length > MAX_HEADER_NAME || value.length > MAX_HEADER_VALUE) {
      return `a header name is at most ${MAX_HEADER_NAME} characters, a value at most ${MAX_HEADER_VALUE}`
    }
  }
  return undefined
}

/** Largest `ack` a client may send at once (far above any window). */
const MAX_ACK = 1 << 20

/** Longest parse issue a `BadRequest` fault carries to the peer: a small bad request gets a small answer. */
const MAX_ISSUE = 200
/**
 * What the peer is told about a message that does not match the schema: the
 * first issue and where it is, never the schema's whole text.
 */
const badRequest = (what: string, error: ParseResult.ParseError, level: "issue" | "none" | "full"): ProtocolError => {
  let detail = `${what} does not match the schema`
  if (level === "none") return new ProtocolError({ reason: "BadRequest", detail })
  if (level === "full") return new ProtocolError({ reason: "BadRequest", detail: `${detail}: ${error.message}` })
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (first !== undefined) {
    const at = first.path.length > 0 ? ` at ${first.path.map(String).join(".")}` : ""
    const message = first.message.length > MAX_ISSUE ? `${first.message.slice(0, MAX_ISSUE)}…` : first.message
    detail = `${detail}${at}: ${message}`
  }
  return new ProtocolError({ reason: "BadRequest", detail })
}

/** The schemas of a response: success and typed error. */
interface Results {
  /** A streaming method: `encodeSuccess`/`decodeSuccess` are per item. */
  readonly stream: boolean
  readonly encodeSuccess: Parse
  readonly decodeSuccess: Parse
  readonly encodeError: Parse | undefined
  readonly decodeError: Parse | undefined
}
const voidResult: Parse = () => Either.right(undefined)
const resultsOf = (success: MethodSchema, error: MethodSchema | undefined, stream = false): Results => ({
  stream,
  encodeSuccess: encoderOf(success),
  // `Schema.Void` accepts anything: its `null` on the wire is the `undefined` it stands for
  decodeSuccess: success.ast._tag === "VoidKeyword" ? voidResult : decoderOf(success),
  encodeError: error === undefined ? undefined : encoderOf(error),
  decodeError: error === undefined ? undefined : decoderOf(error)
})

/** A success that encodes to `undefined` (`Schema.Void`) has no JSON form: it travels as `null`. */
const decodeSuccessValue = (decode: Parse, value: unknown): Either.Either<unknown, ParseResult.ParseError> => {
  const r = decode(value)
  if (r._tag === "Left" && value === null) {
    const undef = decode(undefined)
    if (undef._tag === "Right") return undef
  }
  return r
}

/** The envelope's options, with the request schema and where a response's schemas come from. */
interface EnvelopeConfig extends EnvelopeOptions<any, any, any, any, any> {
  readonly request: Schema.Schema<any, any, never>
  /** One set for every request (`schema`), or one per request tag (`rpc`). */
  readonly results: Results | ReadonlyMap<string, Results>
}

const envelope = <Req, Res, Err, OneWay, Push>(options: EnvelopeConfig): Protocol<Req, Res, Err, OneWay, Push> => {
  const byIdMode = (options.correlation ?? "byId") === "byId"
  const detailLevel = options.badRequestDetail ?? "issue"
  const decodeRequest = decoderOf(options.request)
  const encodeRequest = encoderOf(options.request)
  const decodeOneWay = options.oneWay ? decoderOf(options.oneWay) : undefined
  const encodeOneWay = options.oneWay ? encoderOf(options.oneWay) : undefined
  const decodePush = options.push ? decoderOf(options.push) : undefined
  const encodePush = options.push ? encoderOf(options.push) : undefined
  const perMethod = options.results instanceof Map ? (options.results as ReadonlyMap<string, Results>) : undefined
  const shared = perMethod === undefined ? (options.results as Results) : undefined
  const resultsFor = (request: unknown): Results | undefined =>
    shared ?? (isObject(request) && typeof request._tag === "string" ? perMethod!.get(request._tag) : undefined)
  const codec = "json-envelope"
  const encodeFailure = (detail: string, cause?: unknown) =>
    new MessageError(
      cause === undefined ? { reason: "Encode", codec, detail } : { reason: "Encode", codec, detail, cause }
    )
  const decodeFailure = (detail: string, cause?: unknown) =>
    new MessageError(
      cause === undefined ? { reason: "Decode", codec, detail } : { reason: "Decode", codec, detail, cause }
    )

  const server = (w: WireCodec): TextServerCodec<Req, Res, Err, OneWay, Push> => {
    return {
      decode: (frame) => {
        const o = w.parse(frame)
        if (typeof o === "string") {
          return {
            _tag: "Invalid",
            error: new ProtocolError({ reason: "BadRequest", detail: o }),
            id: undefined,
            oneWay: false
          }
        }
        const id = byIdMode ? readId(o) : undefined
        if (o.cancel === true && id !== undefined) return { _tag: "Cancel", id }
        if (id !== undefined && "ack" in o) {
          const n = o.ack
          return typeof n === "number" && Number.isInteger(n) && n > 0 && n <= MAX_ACK
            ? { _tag: "Ack", id, n }
            : {
              _tag: "Invalid",
              error: new ProtocolError({ reason: "BadRequest", detail: "malformed ack" }),
              id,
              oneWay: true
            }
        }
        if ("request" in o) {
          const r = decodeRequest(o.request)
          if (r._tag === "Left") {
            return { _tag: "Invalid", error: badRequest("request", r.left, detailLevel), id, oneWay: false }
          }
          if (o.trace === undefined && o.headers === undefined) return { _tag: "Request", request: r.right as Req, id }
          let headers: Readonly<Record<string, string>> | undefined
          if (o.headers !== undefined) {
            const invalid = invalidHeaders(o.headers)
            if (invalid !== undefined) {
              return {
                _tag: "Invalid",
                error: new ProtocolError({ reason: "BadRequest", detail: invalid }),
                id,
                oneWay: false
              }
            }
            headers = o.headers as Readonly<Record<string, string>>
          }
          const trace = o.trace === undefined ? undefined : traceOf(o.trace)
          return { _tag: "Request", request: r.right as Req, id, meta: { trace, headers } }
        }
        if ("message" in o && decodeOneWay !== undefined) {
          const r = decodeOneWay(o.message)
          return r._tag === "Right"
            ? { _tag: "OneWay", message: r.right as OneWay }
            : {
              _tag: "Invalid",
              error: badRequest("one-way message", r.left, detailLevel),
              id: undefined,
              oneWay: true
            }
        }
        return {
          _tag: "Invalid",
          error: new ProtocolError({ reason: "BadRequest", detail: "expected a \"request\" or \"message\" field" }),
          id,
          oneWay: false
        }
      },
      encodeResponse: (id, outcome, request) => {
        switch (outcome._tag) {
          case "Success": {
            const results = resultsFor(request)
            if (results === undefined) return encodeFailure("no response schema for this request")
            const r = results.encodeSuccess(outcome.value)
            if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
            const value = r.right === undefined ? null : r.right
            return w.encode(byIdMode ? { id, success: value } : { success: value })
          }
          case "Failure": {
            const encodeError = resultsFor(request)?.encodeError
            if (encodeError === undefined) return encodeFailure("the protocol has no error schema for this request")
            const r = encodeError(outcome.error)
            if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
            return w.encode(byIdMode ? { id, failure: r.right } : { failure: r.right })
          }
          case "Fault": {
            const f = outcome.fault.detail === undefined
              ? { reason: outcome.fault.reason }
              : { reason: outcome.fault.reason, detail: outcome.fault.detail }
            return w.encode(byIdMode ? { id, fault: f } : { fault: f })
          }
        }
      },
      encodePush: (message) => {
        if (encodePush === undefined) return encodeFailure("the protocol has no push schema")
        const r = encodePush(message)
        return r._tag === "Left" ? encodeFailure(issue(r.left), r.left) : w.encode({ push: r.right })
      },
      encodeDraining: () => w.encode({ draining: true })
    }
  }

  const client = (w: WireCodec): TextClientCodec<Req, Res, Err, OneWay, Push> => {
    return {
      encodeRequest: (request, id, meta) => {
        const r = encodeRequest(request)
        if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
        if (meta === undefined) return w.encode(byIdMode ? { id, request: r.right } : { request: r.right })
        const envelope: Record<string, unknown> = byIdMode ? { id, request: r.right } : { request: r.right }
        const trace = meta.trace
        if (trace !== undefined) {
          envelope.trace = { traceId: trace.traceId, spanId: trace.spanId, sampled: trace.sampled }
        }
        if (meta.headers !== undefined) {
          const invalid = invalidHeaders(meta.headers)
          if (invalid !== undefined) return encodeFailure(invalid)
          envelope.headers = meta.headers
        }
        return w.encode(envelope)
      },
      encodeOneWay: (message) => {
        if (encodeOneWay === undefined) return encodeFailure("the protocol has no one-way schema")
        const r = encodeOneWay(message)
        return r._tag === "Left" ? encodeFailure(issue(r.left), r.left) : w.encode({ message: r.right })
      },
      decode: (frame): Outgoing<Res, Err, Push> => {
        const o = w.parse(frame)
        if (typeof o === "string") return { _tag: "Invalid", error: decodeFailure(o), id: undefined }
        const id = byIdMode ? readId(o) : undefined
        if ("success" in o) {
          // per method: decoded once the client knows the request (decodeOutcome)
          if (shared === undefined) {
            return { _tag: "Response", id, outcome: { _tag: "Success", value: o.success as Res } }
          }
          const r = decodeSuccessValue(shared.decodeSuccess, o.success)
          return r._tag === "Right"
            ? { _tag: "Response", id, outcome: { _tag: "Success", value: r.right as Res } }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id }
        }
        if ("failure" in o && (shared === undefined || shared.decodeError !== undefined)) {
          if (shared === undefined) {
            return { _tag: "Response", id, outcome: { _tag: "Failure", error: o.failure as Err } }
          }
          const r = shared.decodeError!(o.failure)
          return r._tag === "Right"
            ? { _tag: "Response", id, outcome: { _tag: "Failure", error: r.right as Err } }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id }
        }
        if (id !== undefined && Array.isArray(o.chunk)) return { _tag: "Chunk", id, items: o.chunk }
        if (id !== undefined && o.end === true) return { _tag: "End", id }
        if ("fault" in o) {
          const f = o.fault
          if (
            isObject(f) && typeof f.reason === "string" &&
            (protocolErrorReasons as ReadonlyArray<string>).includes(f.reason)
          ) {
            const fault = new ProtocolError(
              typeof f.detail === "string"
                ? { reason: f.reason as ProtocolErrorReason, detail: f.detail }
                : { reason: f.reason as ProtocolErrorReason }
            )
            return { _tag: "Response", id, outcome: { _tag: "Fault", fault } }
          }
          return { _tag: "Invalid", error: decodeFailure("malformed fault"), id }
        }
        if ("push" in o && decodePush !== undefined) {
          const r = decodePush(o.push)
          return r._tag === "Right"
            ? { _tag: "Push", message: r.right as Push }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id: undefined }
        }
        if (o.draining === true) return { _tag: "Draining" }
        return { _tag: "Invalid", error: decodeFailure("unknown envelope"), id }
      }
    }
  }

  /** Per method: a response's value decoded with the schemas of the request it answers. */
  const decodeOutcome = perMethod === undefined
    ? undefined
    : (request: Req, outcome: Outcome<unknown, unknown>): Outcome<Res, Err> | MessageError => {
      const results = resultsFor(request)
      if (results === undefined) return decodeFailure("no response schema for this request")
      if (outcome._tag === "Success") {
        const r = decodeSuccessValue(results.decodeSuccess, outcome.value)
        return r._tag === "Right" ? { _tag: "Success", value: r.right as Res } : decodeFailure(issue(r.left), r.left)
      }
      if (outcome._tag === "Failure") {
        if (results.decodeError === undefined) {
          return decodeFailure("a failure for a request whose method has no error schema")
        }
        const r = results.decodeError(outcome.error)
        return r._tag === "Right" ? { _tag: "Failure", error: r.right as Err } : decodeFailure(issue(r.left), r.left)
      }
      return outcome
    }

  const framing = options.framing ?? LengthField.make({ fieldLength: 4 })
  const custom = options.serialization
  // the default framing with JSON: text written straight into the output
  const direct = options.framing === undefined && custom === undefined
  /** Writes one envelope's text as a frame (per connection: a framing encoder may keep state). */
  const writer = (): (wire: Wire, out: ByteBuffer.ByteBuffer) => EncodeError | undefined => {
    if (direct) return lengthPrefixed
    const encoder = framing.encoder()
    return (wire, out) =>
      typeof wire === "string"
        ? encoder.encode(utf8.encode(wire), out)
        : wire instanceof Uint8Array
        ? encoder.encode(wire, out)
        : wire
  }
  const wireCodec = (): WireCodec => custom === undefined ? jsonWire() : codecWire(custom)

  const hasStreams = perMethod !== undefined && [...perMethod.values()].some((r) => r.stream)
  /**
   * The default (JSON, the default framing, text written straight into the
   * output) keeps no state of a connection but its frame decoder's: the
   * rest of a connection's codec is made once, when the first one opens.
   */
  let directServer:
    | (Omit<ServerCodec<Req, Res, Err, OneWay, Push>, "decoder"> & {
      readonly decode: (frame: Uint8Array) => Incoming<Req, OneWay>
    })
    | undefined
  const makeDirectServer = () => {
    const w = jsonWire()
    const t = server(w)
    const encodeResponse: ServerCodec<Req, Res, Err, OneWay, Push>["encodeResponse"] = (id, outcome, out, request) =>
      lengthPrefixed(t.encodeResponse(id, outcome, request), out)
    const encodePush: ServerCodec<Req, Res, Err, OneWay, Push>["encodePush"] = (message, out) =>
      lengthPrefixed(t.encodePush(message), out)
    const encodeDraining = (out: ByteBuffer.ByteBuffer) => lengthPrefixed(t.encodeDraining(), out)
    return {
      decode: t.decode,
      encodeResponse,
      encodePush,
      encodeDraining,
      streams: hasStreams ? serverStreams(lengthPrefixed, w) : undefined
    }
  }
  const serverStreams = (write: ReturnType<typeof writer>, w: WireCodec): StreamServerCodec<Req> => ({
    isStream: (request) => resultsFor(request)?.stream === true,
    encodeChunk: (id, items, request, out) => {
      const results = resultsFor(request)
      if (results === undefined) return encodeFailure("no response schema for this request")
      const encoded: Array<unknown> = new Array(items.length)
      for (let i = 0; i < items.length; i++) {
        const r = results.encodeSuccess(items[i])
        if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
        encoded[i] = r.right === undefined ? null : r.right
      }
      return write(w.encode({ id, chunk: encoded }), out)
    },
    encodeEnd: (id, out) => write(w.encode({ id, end: true }), out)
  })
  const clientStreams = (write: ReturnType<typeof writer>, w: WireCodec): StreamClientCodec<Req> => ({
    encodeAck: (id, n, out) => write(w.encode({ id, ack: n }), out),
    decodeItems: (request, items) => {
      const results = resultsFor(request)
      if (results === undefined) return decodeFailure("no response schema for this request")
      const decoded: Array<unknown> = new Array(items.length)
      for (let i = 0; i < items.length; i++) {
        const r = decodeSuccessValue(results.decodeSuccess, items[i])
        if (r._tag === "Left") return decodeFailure(issue(r.left), r.left)
        decoded[i] = r.right
      }
      return decoded
    }
  })
  const serverFrames = (
    t: TextServerCodec<Req, Res, Err, OneWay, Push>
  ): FrameServerCodec<Req, Res, Err, OneWay, Push> => ({
    decode: t.decode,
    encodeResponse: (id, outcome, request) => bytesOf(t.encodeResponse(id, outcome, request)),
    encodePush: (message) => bytesOf(t.encodePush(message)),
    encodeDraining: () => bytesOf(t.encodeDraining())
  })
  const clientFrames = (
    t: TextClientCodec<Req, Res, Err, OneWay, Push>
  ): FrameClientCodec<Req, Res, Err, OneWay, Push> => ({
    decode: t.decode,
    encodeRequest: (request, id, meta) => bytesOf(t.encodeRequest(request, id, meta)),
    encodeOneWay: (message) => bytesOf(t.encodeOneWay(message))
  })
  return {
    name: options.name ?? "protocol",
    correlation: byIdMode ? "byId" : "inOrder",
    onBadInput: options.onBadInput ?? "respond",
    onDefect: options.onDefect ?? "respond",
    describe: options.describe ?? describeRequest,
    server: (): ServerCodec<Req, Res, Err, OneWay, Push> => {
      if (direct) {
        const d = directServer ??= makeDirectServer()
        return {
          decoder: mapDecoder(framing.decoder(), d.decode),
          encodeResponse: d.encodeResponse,
          encodePush: d.encodePush,
          encodeDraining: d.encodeDraining,
          streams: d.streams
        }
      }
      const w = wireCodec()
      const t = server(w)
      const framed = serverOverFrames(framing, serverFrames(t))
      const streams = hasStreams ? serverStreams(writer(), w) : undefined
      return streams === undefined ? framed : { ...framed, streams }
    },
    client: (): ClientCodec<Req, Res, Err, OneWay, Push> => {
      const w = wireCodec()
      const t = client(w)
      const framed = clientOverFrames(framing, clientFrames(t))
      const base = direct
        ? {
          decoder: framed.decoder,
          encodeRequest: (
            request: Req,
            id: number | undefined,
            out: ByteBuffer.ByteBuffer,
            meta?: RequestMeta | undefined
          ) => lengthPrefixed(t.encodeRequest(request, id, meta), out),
          encodeOneWay: (message: OneWay, out: ByteBuffer.ByteBuffer) => lengthPrefixed(t.encodeOneWay(message), out)
        }
        : framed
      const write = writer()
      const encodeCancel = !byIdMode
        ? undefined
        : (id: number, out: ByteBuffer.ByteBuffer) => write(w.encode({ id, cancel: true }), out)
      const streams = hasStreams ? clientStreams(write, w) : undefined
      return { ...base, encodeCancel, decodeOutcome, streams }
    }
  }
}

/** See `Protocol.schema`. */
export const schema = <Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>(
  options: SchemaOptions<Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>
): Protocol<Req, Res, Err, OneWay, Push> =>
  envelope({ ...options, results: resultsOf(options.response, options.error) })

/** See `Protocol.method`. */
export const method = (
  tag: string,
  options?: {
    readonly payload?: Schema.Struct.Fields | undefined
    readonly success?: MethodSchema | undefined
    readonly error?: MethodSchema | undefined
    readonly stream?: boolean | undefined
    readonly idempotent?: boolean | undefined
  }
): any => {
  const payload = options?.payload ?? {}
  // the request is built as the wire has it: the tag first, then the payload's fields
  const make = (fields?: object) => fields === undefined ? { _tag: tag } : { _tag: tag, ...fields }
  return Object.assign(make, {
    tag,
    payload,
    success: options?.success ?? Schema.Void,
    error: options?.error ?? Schema.Never,
    stream: options?.stream === true,
    idempotent: options?.idempotent === true,
    request: Schema.TaggedStruct(tag, payload)
  })
}

/** See `Protocol.rpc`. */
export const rpc = (options: RpcOptions<ReadonlyArray<Method.Any>, any, any, any, any>): any => {
  const methods = options.methods
  if (methods.length === 0) throw new TypeError("Protocol.rpc: no methods")
  const results = new Map<string, Results>()
  for (const m of methods) {
    if (results.has(m.tag)) throw new TypeError(`Protocol.rpc: two methods are tagged "${m.tag}"`)
    results.set(m.tag, resultsOf(m.success, m.error, m.stream))
    if (m.stream && options.correlation === "inOrder") {
      throw new TypeError(`Protocol.rpc: "${m.tag}" streams, which needs correlation "byId"`)
    }
  }
  const request =
    (methods.length === 1 ? methods[0]!.request : Schema.Union(...methods.map((m) => m.request))) as Schema.Schema<
      any,
      any,
      never
    >
  const idempotent = new Set(methods.filter((m) => m.idempotent === true).map((m) => m.tag))
  const protocol = envelope({ ...options, request, results })
  if (idempotent.size === 0) return protocol
  return {
    ...protocol,
    isIdempotent: (request: unknown) =>
      isObject(request) && typeof request._tag === "string" && idempotent.has(request._tag)
  }
}
