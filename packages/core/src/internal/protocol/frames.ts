/**
 * Protocols over frames: the per-frame codecs of `Protocol.make` and
 * `Protocol.schema` turned into the stream codecs the server and the client
 * run (the framing's decoder finds the frames, the per-frame codec parses each
 * one; encoding is the reverse, into the connection's output buffer).
 */
import type * as ByteBuffer from "../../ByteBuffer.ts"
import type { Decoder } from "../../Codec.ts"
import { mapDecoder } from "../../Codec.ts"
import type { Framing, FramingError } from "../../Framing.ts"
import type { MessageError } from "../../MessageCodec.ts"
import type {
  ClientCodec,
  EncodeError,
  FrameClientCodec,
  FrameServerCodec,
  Incoming,
  Outgoing,
  ServerCodec
} from "../../Protocol.ts"

/** A decoder of messages: the framing's decoder, then `parse` for each frame. */
const messages = <A>(framing: Framing, parse: (frame: Uint8Array) => A): Decoder<A> =>
  mapDecoder(framing.decoder(), parse)

/** Frames `bytes` into `out` (or returns why not); passes a message error on. */
const framed = (
  encoder: { encode(frame: Uint8Array, buf: ByteBuffer.ByteBuffer): FramingError | undefined },
  bytes: Uint8Array | MessageError,
  out: ByteBuffer.ByteBuffer
): EncodeError | undefined => bytes instanceof Uint8Array ? encoder.encode(bytes, out) : bytes

/** The server side of a protocol carrying one message per frame of `framing`. */
export const serverOverFrames = <Req, Res, Err, OneWay, Push>(
  framing: Framing,
  codec: FrameServerCodec<Req, Res, Err, OneWay, Push>
): ServerCodec<Req, Res, Err, OneWay, Push> => {
  const encoder = framing.encoder()
  const draining = codec.encodeDraining
  return {
    decoder: messages<Incoming<Req, OneWay>>(framing, (frame) => codec.decode(frame)),
    encodeResponse: (id, outcome, out, request) => framed(encoder, codec.encodeResponse(id, outcome, request), out),
    encodePush: (message, out) => framed(encoder, codec.encodePush(message), out),
    encodeDraining: draining === undefined ? undefined : (out) => framed(encoder, draining(), out)
  }
}

/** The client side of a protocol carrying one message per frame of `framing`. */
export const clientOverFrames = <Req, Res, Err, OneWay, Push>(
  framing: Framing,
  codec: FrameClientCodec<Req, Res, Err, OneWay, Push>
): ClientCodec<Req, Res, Err, OneWay, Push> => {
  const encoder = framing.encoder()
  return {
    decoder: messages<Outgoing<Res, Err, Push>>(framing, (frame) => codec.decode(frame)),
    encodeRequest: (request, id, out, meta) => framed(encoder, codec.encodeRequest(request, id, meta), out),
    encodeOneWay: (message, out) => framed(encoder, codec.encodeOneWay(message), out)
  }
}
