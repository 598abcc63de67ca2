/**
 * Pass-through framing: every received chunk is a frame, every frame is written as is. For
 * byte-stream protocols (a proxy, a terminal, `MessageCodec.textStream`) where boundaries do not
 * matter.
 *
 * ```
 *   chunks:  [a b c] [d]     → frames "abc", "d"   (empty chunks are skipped)
 *   encode("xyz")            → x y z
 * ```
 *
 * @example
 * ```ts
 * import * as PassThrough from "./PassThrough.ts"
 * const framing = PassThrough.make()
 * ```
 *
 * @since 0.1.0
 */
import type { FrameDecoder, FrameEncoder, Framing } from "./Framing.ts"

const CODEC = "PassThrough"

const decoder: FrameDecoder = {
  decode(chunk, out) {
    if (chunk.length > 0) out.push(chunk)
    return undefined
  },
  finish() {
    return undefined
  },
  buffered: 0
}

const encoder: FrameEncoder = {
  encode(frame, buf) {
    buf.writeBytes(frame)
    return undefined
  }
}

/**
 * Options of {@link make}: none yet (reserved, so every codec has the same `make(options?)` shape).
 * ```
 *   make() ≡ make({})
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {}

/**
 * The pass-through framing: `maxFrameLength` is `Infinity` (a frame is whatever the transport
 * delivered), nothing is ever buffered, `finish` never fails. Decoder and encoder are stateless
 * (shared).
 *
 * ```
 *   decode([a b]) → "ab" (the chunk itself, zero-copy)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (_options: Options = {}): Framing => ({
  codec: CODEC,
  maxFrameLength: Infinity,
  decoder: () => decoder,
  encoder: () => encoder
})
