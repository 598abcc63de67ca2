/**
 * Framing: cutting a TCP byte stream into frames, and writing frames back as bytes.
 *
 * ```
 *   socket chunks:  [ 00 03 a b | c 00 01 | d ]           (arbitrary boundaries)
 *   FrameDecoder →  frames:  "abc", "d"                     (protocol boundaries)
 *   FrameEncoder ←  frames:  "abc", "d"  →  ByteBuffer [00 03 a b c 00 01 d] → one socket write
 * ```
 *
 * A {@link Framing} is a pure description (codec name, max frame length, and factories for
 * per-connection decoder/encoder state): the byte-frame case of a {@link Codec.Codec}.
 * Codecs: `Lines`, `Delimiter`, `LengthField`, `FixedLength`, `Varint`, `PassThrough`.
 *
 * @since 0.1.0
 */
import { Data, Either } from "effect"
import * as ByteBuffer from "./ByteBuffer.ts"
import type * as Codec from "./Codec.ts"

/**
 * Bad bytes on the wire, or a frame an encoder cannot express.
 *
 * - `FrameTooLarge`: a frame exceeds `limit`; `actual` is the real size when known (the declared
 *   length after adjustment for length-prefixed codecs, or the bytes seen so far without a
 *   delimiter for delimiter codecs).
 * - `Corrupted`: the bytes violate the format (malformed varint, negative adjusted length,
 *   a frame containing its own delimiter on encode, ...). See `detail`.
 * - `Truncated`: the stream ended inside a frame; `buffered` bytes were left.
 *
 * ```
 *   new FramingError({ reason: "FrameTooLarge", codec: "LengthField", limit: 255, actual: 300 }).message
 *   // "LengthField: frame too large: 300 bytes, limit 255"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class FramingError extends Data.TaggedError("FramingError")<{
  /** What is wrong (see above). */
  readonly reason: "FrameTooLarge" | "Corrupted" | "Truncated"
  /** The codec that saw it (`"LengthField"`, `"Lines"`, ...). */
  readonly codec: string
  /** The maximum frame size, for `FrameTooLarge`. */
  readonly limit?: number
  /** The frame's size (or the bytes seen so far), for `FrameTooLarge`, when known. */
  readonly actual?: number
  /** Bytes left in the decoder, for `Truncated`. */
  readonly buffered?: number
  /** What was wrong, for `Corrupted`. */
  readonly detail?: string
}> {
  /** A human readable sentence with the facts. */
  override get message(): string {
    let text: string
    switch (this.reason) {
      case "FrameTooLarge":
        text = `${this.codec}: frame too large: ${
          this.actual === undefined ? "more than the limit" : `${this.actual} bytes`
        }, limit ${this.limit ?? "?"}`
        break
      case "Corrupted":
        text = `${this.codec}: corrupted input`
        break
      case "Truncated":
        text = `${this.codec}: stream ended inside a frame (${this.buffered ?? 0} bytes buffered)`
        break
    }
    return this.detail === undefined ? text : `${text}: ${this.detail}`
  }
}

/**
 * Thrown (synchronously) by a codec's `make` when its options are invalid: a programmer error,
 * reported before any connection exists.
 *
 * ```
 *   LengthField.make({ fieldLength: 1, maxFrameLength: 300 })
 *   // throws FramingConfigError { codec: "LengthField", option: "maxFrameLength", detail: "..." }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class FramingConfigError extends Data.TaggedError("FramingConfigError")<{
  /** The codec built with it. */
  readonly codec: string
  /** The option refused. */
  readonly option: string
  /** Why. */
  readonly detail: string
}> {
  /** A human readable sentence naming the option. */
  override get message(): string {
    return `${this.codec}: invalid option "${this.option}": ${this.detail}`
  }
}

/**
 * Per-connection decoding state: feed chunks, collect frames (a
 * {@link Codec.Decoder} of byte frames).
 *
 * ```
 *   decode([a b \n c])  → out += "ab"     buffered = 1  ("c")
 *   decode([d \n])      → out += "cd"     buffered = 0
 *   finish()            → undefined (nothing left) | Truncated (partial frame)
 * ```
 *
 * Frames lying wholly inside one chunk are zero-copy subarray views of it (the
 * caller promises not to mutate chunks); frames spanning chunks are copied.
 * No per-byte allocation, no per-frame allocation beyond the subarray.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameDecoder extends Codec.Decoder<Uint8Array> {}

/**
 * Per-connection encoding state (a {@link Codec.Encoder} of byte frames).
 *
 * ```
 *   encode("abc", buf) → buf += [00 03 a b c]   (LengthField, 2-byte big endian)
 * ```
 *
 * `FrameTooLarge` if the frame can't be expressed or is over the max,
 * `Corrupted` if it can't be framed (e.g. contains the delimiter). Nothing is
 * written on error.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameEncoder extends Codec.Encoder<Uint8Array> {}

/**
 * A framing codec: a name, its max frame length and factories for fresh per-connection state.
 *
 * ```
 *   const framing = LengthField.make({ fieldLength: 4 })
 *   const decoder = framing.decoder()   // one per connection
 *   const encoder = framing.encoder()   // one per connection
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Framing extends Codec.Codec<Uint8Array> {
  /** Codec name, as used in {@link FramingError.codec}, e.g. `"LengthField"`. */
  readonly codec: string
  /** The largest frame accepted (codec-specific definition; see each codec). */
  readonly maxFrameLength: number
  /** Fresh decoding state (one per connection). */
  readonly decoder: () => FrameDecoder
  /** Fresh encoding state (one per connection). */
  readonly encoder: () => FrameEncoder
}

/**
 * Decode a whole stream given as chunks, including the end-of-stream check. Handy in tests and
 * for one-shot parsing. Frames are copied when they span chunks, viewed otherwise.
 *
 * ```
 *   decodeAll(Lines.make(), [bytes("a\nb"), bytes("\n")]) // Right(["a", "b"])
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeAll = (
  framing: Framing,
  chunks: Iterable<Uint8Array>
): Either.Either<Array<Uint8Array>, FramingError> => {
  const decoder = framing.decoder()
  const out: Array<Uint8Array> = []
  for (const chunk of chunks) {
    const error = decoder.decode(chunk, out)
    if (error !== undefined) return Either.left(error)
  }
  const error = decoder.finish(out)
  return error === undefined ? Either.right(out) : Either.left(error)
}

/**
 * Encode frames into one byte array (what one coalesced socket write would carry).
 *
 * ```
 *   encodeAll(Lines.make({ encodeDelimiter: "lf" }), [bytes("a"), bytes("b")]) // Right([a \n b \n])
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const encodeAll = (
  framing: Framing,
  frames: Iterable<Uint8Array>
): Either.Either<Uint8Array, FramingError> => {
  const encoder = framing.encoder()
  const buf = ByteBuffer.make()
  for (const frame of frames) {
    const error = encoder.encode(frame, buf)
    if (error !== undefined) return Either.left(error)
  }
  return Either.right(buf.take())
}
