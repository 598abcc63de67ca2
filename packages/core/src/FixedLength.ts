/**
 * Fixed-length framing: every frame is exactly `frameLength` bytes.
 *
 * ```
 *   frameLength 3:   a b c d e | f g h i     → "abc", "def", "ghi"
 * ```
 *
 * @example
 * ```ts
 * import * as FixedLength from "./FixedLength.ts"
 * const framing = FixedLength.make({ frameLength: 16 })
 * ```
 *
 * @since 0.1.0
 */
import type * as ByteBuffer from "./ByteBuffer.ts"
import { type FrameDecoder, type FrameEncoder, type Framing, FramingError } from "./Framing.ts"
import * as Config from "./internal/framing/config.ts"
import { Pieces } from "./internal/framing/Pieces.ts"

const CODEC = "FixedLength"

/**
 * Options of {@link make}.
 *
 * ```
 *   frameLength 2:  [a b][c d]
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Size of every frame in bytes: an integer in `[1, 2^31-1]`. Required. */
  readonly frameLength: number
}

/**
 * Fixed-length framing. `maxFrameLength` is `frameLength`.
 *
 * Decoder: cuts every `frameLength` bytes; `finish` with a partial frame is `Truncated`.
 * Encoder: writes the frame as is; it refuses a longer frame (`FrameTooLarge`) and a shorter one
 * (`Corrupted`; no padding is added).
 * ```
 *   frameLength 3, encode("abc") → a b c        encode("ab") → Corrupted
 * ```
 *
 * @throws FramingConfigError when `frameLength` is not an integer in `[1, 2^31-1]`.
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Framing => {
  const frameLength = options?.frameLength
  if (frameLength === undefined) return Config.fail(CODEC, "frameLength", "required")
  const size = Config.integer(CODEC, "frameLength", frameLength, 1, 1, 0x7fffffff)
  return {
    codec: CODEC,
    maxFrameLength: size,
    decoder: () => decoder(size),
    encoder: () => encoder(size)
  }
}

const decoder = (size: number): FrameDecoder => {
  const held = new Pieces()
  let failed: FramingError | undefined
  return {
    decode(chunk, out, lent = false) {
      if (failed !== undefined) return failed
      const n = chunk.length
      let pos = 0
      if (held.length > 0) {
        const take = Math.min(size - held.length, n)
        held.append(chunk, 0, take, size, lent)
        pos = take
        if (held.length < size) return undefined
        out.push(held.take())
      }
      while (n - pos >= size) {
        out.push(chunk.subarray(pos, pos + size))
        pos += size
      }
      if (pos < n) held.append(chunk, pos, n, size, lent)
      return undefined
    },
    finish() {
      if (failed !== undefined) return failed
      if (held.length === 0) return undefined
      return (failed = new FramingError({
        reason: "Truncated",
        codec: CODEC,
        buffered: held.length,
        detail: `frame of ${size} bytes, ${size - held.length} missing`
      }))
    },
    get buffered() {
      return held.held
    }
  }
}

const encoder = (size: number): FrameEncoder => ({
  encode(frame, buf: ByteBuffer.ByteBuffer) {
    if (frame.length > size) {
      return new FramingError({ reason: "FrameTooLarge", codec: CODEC, limit: size, actual: frame.length })
    }
    if (frame.length < size) {
      return new FramingError({
        reason: "Corrupted",
        codec: CODEC,
        detail: `frame of ${frame.length} bytes, expected exactly ${size}`
      })
    }
    buf.writeBytes(frame)
    return undefined
  }
})
