/**
 * The implementation of `Protocol.schema`: Schema-typed messages in the
 * standard JSON envelope. The envelope is documented on `Protocol.schema`.
 */
import { Schema } from "effect"
import * as LengthField from "../../LengthField.ts"
import { MessageError } from "../../MessageCodec.ts"
import type * as ByteBuffer from "../../ByteBuffer.ts"
import { FramingError } from "../../Framing.ts"
import type {
  ClientCodec,
  EncodeError,
  FrameClientCodec,
  FrameServerCodec,
  Protocol,
  ProtocolErrorReason,
  SchemaOptions,
  ServerCodec
} from "../../Protocol.ts"
import { ProtocolError, protocolErrorReasons } from "./errors.ts"
import { clientOverFrames, serverOverFrames } from "./frames.ts"
import { describeRequest } from "./protocol.ts"

const utf8 = new TextEncoder()
/** The envelope's JSON text (encoded into bytes by the framing path in use). */
const json = (value: unknown): string | MessageError => {
  try {
    return JSON.stringify(value)
  } catch (error) {
    return new MessageError({ reason: "Encode", codec: "json-envelope", detail: String(error), cause: error })
  }
}
const bytesOf = (text: string | MessageError): Uint8Array | MessageError => typeof text === "string" ? utf8.encode(text) : text

const MAX_FRAME = LengthField.DEFAULT_MAX_FRAME_LENGTH
/**
 * The default framing's encoding, straight into the output: a 4-byte
 * big-endian length, then the UTF-8 text (no intermediate array per message).
 * Over the limit: the same `FrameTooLarge` error the framing would give.
 */
const lengthPrefixed = (text: string | MessageError, out: ByteBuffer.ByteBuffer): EncodeError | undefined => {
  if (typeof text !== "string") return text
  const start = out.length
  out.writeUint32BE(0)
  const n = out.writeUtf8(text)
  if (n > MAX_FRAME) {
    out.truncate(start)
    return new FramingError({ reason: "FrameTooLarge", codec: "LengthField", limit: MAX_FRAME, actual: n })
  }
  const bytes = out.peek()
  bytes[start] = n >>> 24
  bytes[start + 1] = (n >>> 16) & 0xff
  bytes[start + 2] = (n >>> 8) & 0xff
  bytes[start + 3] = n & 0xff
  return undefined
}

/** The per-frame codecs of the envelope, with JSON text where frame bytes go. */
type TextServerCodec<Req, Res, Err, OneWay, Push> = {
  readonly [K in keyof FrameServerCodec<Req, Res, Err, OneWay, Push>]: K extends "decode"
    ? FrameServerCodec<Req, Res, Err, OneWay, Push>[K]
    : (...args: Parameters<NonNullable<FrameServerCodec<Req, Res, Err, OneWay, Push>[K]>>) => string | MessageError
}
type TextClientCodec<Req, Res, Err, OneWay, Push> = {
  readonly [K in keyof FrameClientCodec<Req, Res, Err, OneWay, Push>]: K extends "decode"
    ? FrameClientCodec<Req, Res, Err, OneWay, Push>[K]
    : (...args: Parameters<FrameClientCodec<Req, Res, Err, OneWay, Push>[K]>) => string | MessageError
}
const issue = (error: { readonly message: string }): string => error.message
const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const readId = (o: Record<string, unknown>): number | undefined => (typeof o.id === "number" ? o.id : undefined)

/** See `Protocol.schema`. */
export const schema = <Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>(
  options: SchemaOptions<Req, ReqI, Res, ResI, Err, ErrI, OneWay, OneWayI, Push, PushI>
): Protocol<Req, Res, Err, OneWay, Push> => {
  const byIdMode = (options.correlation ?? "byId") === "byId"
  const decodeRequest = Schema.decodeUnknownEither(options.request)
  const encodeRequest = Schema.encodeEither(options.request)
  const decodeResponse = Schema.decodeUnknownEither(options.response)
  const encodeResponse = Schema.encodeEither(options.response)
  const errorSchema = options.error
  const decodeError = errorSchema ? Schema.decodeUnknownEither(errorSchema) : undefined
  const encodeError = errorSchema ? Schema.encodeEither(errorSchema) : undefined
  const decodeOneWay = options.oneWay ? Schema.decodeUnknownEither(options.oneWay) : undefined
  const encodeOneWay = options.oneWay ? Schema.encodeEither(options.oneWay) : undefined
  const decodePush = options.push ? Schema.decodeUnknownEither(options.push) : undefined
  const encodePush = options.push ? Schema.encodeEither(options.push) : undefined
  const codec = "json-envelope"
  const encodeFailure = (detail: string, cause?: unknown) =>
    new MessageError(cause === undefined ? { reason: "Encode", codec, detail } : { reason: "Encode", codec, detail, cause })
  const decodeFailure = (detail: string, cause?: unknown) =>
    new MessageError(cause === undefined ? { reason: "Decode", codec, detail } : { reason: "Decode", codec, detail, cause })

  const parse = (decoder: TextDecoder, frame: Uint8Array): Record<string, unknown> | string => {
    let value: unknown
    try {
      value = JSON.parse(decoder.decode(frame))
    } catch (error) {
      return error instanceof Error ? error.message : String(error)
    }
    return isObject(value) ? value : "not a JSON object"
  }

  const server = (): TextServerCodec<Req, Res, Err, OneWay, Push> => {
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    return {
      decode: (frame) => {
        const o = parse(decoder, frame)
        if (typeof o === "string") {
          return { _tag: "Invalid", error: new ProtocolError({ reason: "BadRequest", detail: o }), id: undefined, oneWay: false }
        }
        const id = byIdMode ? readId(o) : undefined
        if ("request" in o) {
          const r = decodeRequest(o.request)
          return r._tag === "Right"
            ? { _tag: "Request", request: r.right, id }
            : { _tag: "Invalid", error: new ProtocolError({ reason: "BadRequest", detail: issue(r.left) }), id, oneWay: false }
        }
        if ("message" in o && decodeOneWay !== undefined) {
          const r = decodeOneWay(o.message)
          return r._tag === "Right"
            ? { _tag: "OneWay", message: r.right }
            : { _tag: "Invalid", error: new ProtocolError({ reason: "BadRequest", detail: issue(r.left) }), id: undefined, oneWay: true }
        }
        return {
          _tag: "Invalid",
          error: new ProtocolError({ reason: "BadRequest", detail: "expected a \"request\" or \"message\" field" }),
          id,
          oneWay: false
        }
      },
      encodeResponse: (id, outcome) => {
        switch (outcome._tag) {
          case "Success": {
            const r = encodeResponse(outcome.value)
            if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
            return json(byIdMode ? { id, success: r.right } : { success: r.right })
          }
          case "Failure": {
            if (encodeError === undefined) return encodeFailure("the protocol has no error schema")
            const r = encodeError(outcome.error)
            if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
            return json(byIdMode ? { id, failure: r.right } : { failure: r.right })
          }
          case "Fault": {
            const f = outcome.fault.detail === undefined
              ? { reason: outcome.fault.reason }
              : { reason: outcome.fault.reason, detail: outcome.fault.detail }
            return json(byIdMode ? { id, fault: f } : { fault: f })
          }
        }
      },
      encodePush: (message) => {
        if (encodePush === undefined) return encodeFailure("the protocol has no push schema")
        const r = encodePush(message)
        return r._tag === "Left" ? encodeFailure(issue(r.left), r.left) : json({ push: r.right })
      },
      encodeDraining: () => json({ draining: true })
    }
  }

  const client = (): TextClientCodec<Req, Res, Err, OneWay, Push> => {
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    return {
      encodeRequest: (request, id) => {
        const r = encodeRequest(request)
        if (r._tag === "Left") return encodeFailure(issue(r.left), r.left)
        return json(byIdMode ? { id, request: r.right } : { request: r.right })
      },
      encodeOneWay: (message) => {
        if (encodeOneWay === undefined) return encodeFailure("the protocol has no one-way schema")
        const r = encodeOneWay(message)
        return r._tag === "Left" ? encodeFailure(issue(r.left), r.left) : json({ message: r.right })
      },
      decode: (frame) => {
        const o = parse(decoder, frame)
        if (typeof o === "string") return { _tag: "Invalid", error: decodeFailure(o), id: undefined }
        const id = byIdMode ? readId(o) : undefined
        if ("success" in o) {
          const r = decodeResponse(o.success)
          return r._tag === "Right"
            ? { _tag: "Response", id, outcome: { _tag: "Success", value: r.right } }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id }
        }
        if ("failure" in o && decodeError !== undefined) {
          const r = decodeError(o.failure)
          return r._tag === "Right"
            ? { _tag: "Response", id, outcome: { _tag: "Failure", error: r.right } }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id }
        }
        if ("fault" in o) {
          const f = o.fault
          if (isObject(f) && typeof f.reason === "string" && (protocolErrorReasons as ReadonlyArray<string>).includes(f.reason)) {
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
            ? { _tag: "Push", message: r.right }
            : { _tag: "Invalid", error: decodeFailure(issue(r.left), r.left), id: undefined }
        }
        if (o.draining === true) return { _tag: "Draining" }
        return { _tag: "Invalid", error: decodeFailure("unknown envelope"), id }
      }
    }
  }

  const framing = options.framing ?? LengthField.make({ fieldLength: 4 })
  const direct = options.framing === undefined
  const serverFrames = (t: TextServerCodec<Req, Res, Err, OneWay, Push>): FrameServerCodec<Req, Res, Err, OneWay, Push> => ({
    decode: t.decode,
    encodeResponse: (id, outcome) => bytesOf(t.encodeResponse(id, outcome)),
    encodePush: (message) => bytesOf(t.encodePush(message)),
    encodeDraining: () => bytesOf(t.encodeDraining())
  })
  const clientFrames = (t: TextClientCodec<Req, Res, Err, OneWay, Push>): FrameClientCodec<Req, Res, Err, OneWay, Push> => ({
    decode: t.decode,
    encodeRequest: (request, id) => bytesOf(t.encodeRequest(request, id)),
    encodeOneWay: (message) => bytesOf(t.encodeOneWay(message))
  })
  return {
    name: options.name ?? "protocol",
    correlation: byIdMode ? "byId" : "inOrder",
    onBadInput: options.onBadInput ?? "respond",
    onDefect: options.onDefect ?? "respond",
    describe: options.describe ?? describeRequest,
    server: (): ServerCodec<Req, Res, Err, OneWay, Push> => {
      const t = server()
      const framed = serverOverFrames(framing, serverFrames(t))
      if (!direct) return framed
      return {
        decoder: framed.decoder,
        encodeResponse: (id, outcome, out) => lengthPrefixed(t.encodeResponse(id, outcome), out),
        encodePush: (message, out) => lengthPrefixed(t.encodePush(message), out),
        encodeDraining: (out) => lengthPrefixed(t.encodeDraining(), out)
      }
    },
    client: (): ClientCodec<Req, Res, Err, OneWay, Push> => {
      const t = client()
      const framed = clientOverFrames(framing, clientFrames(t))
      if (!direct) return framed
      return {
        decoder: framed.decoder,
        encodeRequest: (request, id, out) => lengthPrefixed(t.encodeRequest(request, id), out),
        encodeOneWay: (message, out) => lengthPrefixed(t.encodeOneWay(message), out)
      }
    }
  }
}
