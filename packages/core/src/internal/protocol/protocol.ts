/**
 * The implementation of `Protocol.make` (user wire formats) and the
 * correlation and codec values of `Protocol`. The public module holds the
 * types and the documentation.
 */
import { Either } from "effect"
import { FramingError } from "../../Framing.ts"
import type { MessageCodec } from "../../MessageCodec.ts"
import { MessageError } from "../../MessageCodec.ts"
import type {
  ClientCodec,
  Correlation,
  CustomOptions,
  FailurePolicy,
  FrameClientCodec,
  FrameServerCodec,
  IdAccess,
  MakeOptions,
  Protocol
} from "../../Protocol.ts"
import { ProtocolError } from "./errors.ts"
import { clientOverFrames, serverOverFrames } from "./frames.ts"

/** A message's `_tag` when it has one, else `kind`. */
export const tagOr = (message: unknown, kind: string): string =>
  typeof message === "object" && message !== null && !ArrayBuffer.isView(message) && "_tag" in message &&
    typeof message._tag === "string"
    ? message._tag
    : kind
/** The default `describe` of a request. */
export const describeRequest = (message: unknown): string => tagOr(message, "request")

/** See `Protocol.inOrder`. */
export const inOrder: Correlation<any, any> = { _tag: "InOrder" }

const fieldAccess = (field: string): IdAccess<any> => ({
  get: (message) => {
    const id = typeof message === "object" && message !== null ? message[field] : undefined
    return typeof id === "number" ? id : undefined
  },
  set: (message, id) => ({ ...message, [field]: id })
})

/** See `Protocol.byId`. */
export const byId = (
  access: string | { readonly request: IdAccess<any>; readonly response: IdAccess<any> }
): Correlation<any, any> =>
  typeof access === "string"
    ? { _tag: "ById", request: fieldAccess(access), response: fieldAccess(access) }
    : { _tag: "ById", request: access.request, response: access.response }

/** See `Protocol.bytes`. */
export const bytes: MessageCodec<Uint8Array> = {
  name: "bytes",
  decoder: () => Either.right,
  encoder: () => Either.right
}

/** See `Protocol.make`. */
export const make = <In, Out, OneWay extends In = never, Push extends Out = never, Err extends Out = never>(
  options: MakeOptions<In, Out, OneWay, Push, Err>
): Protocol<Exclude<In, OneWay>, Exclude<Out, Err | Push>, Err, OneWay, Push> => {
  type Req = Exclude<In, OneWay>
  type Res = Exclude<Out, Err | Push>
  const correlation: Correlation<In, Out> = options.correlation ?? inOrder
  const byIdAccess = correlation._tag === "ById" ? correlation : undefined
  const isOneWay = options.isOneWay
  const isPush = options.isPush
  const isError = options.isError
  const fault = options.fault
  const draining = options.draining
  const policy: FailurePolicy = fault === undefined ? "close" : "respond"
  const onBadInput = fault === undefined ? "close" : options.onBadInput ?? policy
  const onDefect = fault === undefined ? "close" : options.onDefect ?? policy
  const withId = (out: Out, id: number | undefined): Out =>
    byIdAccess !== undefined && id !== undefined ? byIdAccess.response.set(out, id) : out

  const server = (): FrameServerCodec<Req, Res, Err, OneWay, Push> => {
    const decode = options.inbound.decoder()
    const encode = options.outbound.encoder()
    const run = (out: Out): Uint8Array | MessageError => {
      const r = encode(out)
      return r._tag === "Right" ? r.right : r.left
    }
    return {
      decode: (frame) => {
        const r = decode(frame)
        if (r._tag === "Left") {
          return {
            _tag: "Invalid",
            error: new ProtocolError({ reason: "BadRequest", detail: r.left.message }),
            id: undefined,
            oneWay: false
          }
        }
        const message = r.right
        if (isOneWay !== undefined && isOneWay(message)) return { _tag: "OneWay", message }
        return {
          _tag: "Request",
          request: message as Req,
          id: byIdAccess !== undefined ? byIdAccess.request.get(message) : undefined
        }
      },
      encodeResponse: (id, outcome) => {
        switch (outcome._tag) {
          case "Success":
            return run(withId(outcome.value, id))
          case "Failure":
            return run(withId(outcome.error, id))
          case "Fault":
            if (fault === undefined) {
              return new MessageError({
                reason: "Encode",
                codec: options.outbound.name,
                detail: `no fault encoding for ${outcome.fault.reason}`
              })
            }
            return run(withId(fault.encode(outcome.fault), id))
        }
      },
      encodePush: (message) => run(message),
      encodeDraining: draining === undefined ? undefined : () => run(draining.message)
    }
  }

  const client = (): FrameClientCodec<Req, Res, Err, OneWay, Push> => {
    const decode = options.outbound.decoder()
    const encode = options.inbound.encoder()
    const run = (m: In): Uint8Array | MessageError => {
      const r = encode(m)
      return r._tag === "Right" ? r.right : r.left
    }
    return {
      encodeRequest: (request, id) =>
        run(byIdAccess !== undefined && id !== undefined ? byIdAccess.request.set(request, id) : request),
      encodeOneWay: (message) => run(message),
      decode: (frame) => {
        const r = decode(frame)
        if (r._tag === "Left") return { _tag: "Invalid", error: r.left, id: undefined }
        const message = r.right
        if (draining !== undefined && draining.is(message)) return { _tag: "Draining" }
        if (isPush !== undefined && isPush(message)) return { _tag: "Push", message }
        const id = byIdAccess !== undefined ? byIdAccess.response.get(message) : undefined
        if (isError !== undefined && isError(message)) {
          const f = fault?.decode?.(message)
          return {
            _tag: "Response",
            id,
            outcome: f !== undefined ? { _tag: "Fault", fault: f } : { _tag: "Failure", error: message }
          }
        }
        return { _tag: "Response", id, outcome: { _tag: "Success", value: message as Res } }
      }
    }
  }

  const describeIn = options.describe
  return {
    name: options.name ?? "protocol",
    correlation: correlation._tag === "ById" ? "byId" : "inOrder",
    onBadInput,
    onDefect,
    describe: describeIn !== undefined
      ? (m) => describeIn(m as In)
      : (m) => tagOr(m, isOneWay !== undefined && isOneWay(m as In) ? "oneway" : "request"),
    server: () => serverOverFrames(options.framing, server()),
    client: () => clientOverFrames(options.framing, client())
  }
}

/** See `Protocol.custom`. */
export const custom = <Req, Res, Err = never, OneWay = never, Push = never>(
  options: CustomOptions<Req, Res, Err, OneWay, Push>
): Protocol<Req, Res, Err, OneWay, Push> => {
  const name = options.name ?? "protocol"
  const client = options.client ?? (() => noClient<Req, Res, Err, OneWay, Push>(name))
  const describeIn = options.describe
  return {
    name,
    correlation: options.correlation ?? "inOrder",
    onBadInput: options.onBadInput ?? "close",
    onDefect: options.onDefect ?? "close",
    describe: describeIn !== undefined ? describeIn : describeRequest,
    server: options.server,
    client
  }
}

/** The client side of a protocol defined without one: nothing can be sent or read. */
const noClient = <Req, Res, Err, OneWay, Push>(name: string): ClientCodec<Req, Res, Err, OneWay, Push> => {
  const error = new MessageError({ reason: "Encode", codec: name, detail: `protocol ${name} has no client side` })
  const refused = new FramingError({ reason: "Corrupted", codec: name, detail: `protocol ${name} has no client side` })
  return {
    decoder: { decode: () => refused, finish: () => refused, buffered: 0 },
    encodeRequest: () => error,
    encodeOneWay: () => error
  }
}
