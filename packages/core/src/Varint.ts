/**
 * Varint framing: each frame is prefixed with its length as an unsigned LEB128 varint
 * (protobuf's "delimited" format: 7 bits per byte, least significant group first, high bit set
 * on every byte but the last).
 *
 * ```
 *   03 a b c                 → "abc"
 *   AC 02 <300 bytes>        → 300-byte frame       (0x2C + 0x02 << 7 = 300)
 *   00                       → ""                    (empty frame)
 *   80 00                    → Corrupted             (non-minimal: 0 spelled in 2 bytes)
 *   FF FF FF FF FF ...       → Corrupted             (more than maxVarintBytes)
 * ```
 *
 * The max frame length is checked right after the varint is read, before any body byte is
 * buffered. Non-minimal encodings (a last byte of 0x00 after continuation bytes) are rejected as
 * `Corrupted` by default, so every length has exactly one spelling; set `allowNonMinimal` to
 * accept them.
 *
 * @example
 * ```ts
 * import * as Varint from "./Varint.ts"
 * const framing = Varint.make({ maxFrameLength: 1 << 20 })
 * ```
 *
 * @since 0.1.0
 */
import type * as ByteBuffer from "./ByteBuffer.ts"
import { type FrameDecoder, type FrameEncoder, type Framing, FramingError } from "./Framing.ts"
import * as Config from "./internal/framing/config.ts"
import { Pieces } from "./internal/framing/Pieces.ts"

const CODEC = "Varint"

/**
 * Default `maxFrameLength`: 8 MiB.
 * ```
 *   [ varint ][ body: up to 8388608 bytes ]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024

/**
 * Default `maxVarintBytes`: 5 (protobuf varint32).
 * ```
 *   FF FF FF FF 0F  = 2^32-1 (5 bytes: accepted)      80 80 80 80 80 01 → Corrupted
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_VARINT_BYTES = 5

/**
 * Options of {@link make}.
 *
 * ```
 *   maxVarintBytes 1: lengths 0..127        [0xxxxxxx]
 *   maxVarintBytes 2: lengths 0..16383      [1xxxxxxx 0xxxxxxx]
 *   maxVarintBytes 5: up to 2^35-1          (protobuf varint32 uses 5 bytes for 2^32-1)
 *   maxVarintBytes 8: up to 2^53-1          (larger values are FrameTooLarge)
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Largest frame (body) in bytes. Default: 8 MiB, capped to what `maxVarintBytes` can describe. */
  readonly maxFrameLength?: number
  /** Most bytes a length prefix may take: 1..8. Default {@link DEFAULT_MAX_VARINT_BYTES}. */
  readonly maxVarintBytes?: number
  /** Accept non-minimal varints such as `80 00`. Default `false`. */
  readonly allowNonMinimal?: boolean
}

/**
 * Varint-length-prefixed framing.
 *
 * Encoder: writes the minimal varint of the frame length, then the frame; `FrameTooLarge` above
 * `maxFrameLength`.
 * ```
 *   encode("abc") → 03 a b c
 * ```
 *
 * @throws FramingConfigError when `maxVarintBytes` is not an integer in `[1, 8]`, or
 *   `maxFrameLength` is not an integer in `[0, min(2^(7 * maxVarintBytes) - 1, 2^53 - 1)]`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Framing => {
  const maxVarintBytes = Config.integer(CODEC, "maxVarintBytes", options.maxVarintBytes, DEFAULT_MAX_VARINT_BYTES, 1, 8)
  const describable = Math.min(Number.MAX_SAFE_INTEGER, 2 ** (7 * maxVarintBytes) - 1)
  const maxFrameLength = Config.integer(
    CODEC,
    "maxFrameLength",
    options.maxFrameLength,
    Math.min(DEFAULT_MAX_FRAME_LENGTH, describable),
    0,
    describable
  )
  const allowNonMinimal = Config.oneOf(CODEC, "allowNonMinimal", options.allowNonMinimal, false, [true, false])
  const settings: Settings = { maxFrameLength, maxVarintBytes, allowNonMinimal }
  return {
    codec: CODEC,
    maxFrameLength,
    decoder: () => decoder(settings),
    encoder: () => encoder(settings)
  }
}

interface Settings {
  readonly maxFrameLength: number
  readonly maxVarintBytes: number
  readonly allowNonMinimal: boolean
}

const decoder = (s: Settings): FrameDecoder => {
  const body = new Pieces()
  // varint in progress (it may be split across chunks)
  let value = 0
  let scale = 1 // 128^(bytes read)
  let varintBytes = 0
  let inBody = false
  let frameLength = 0
  let failed: FramingError | undefined

  const corrupted = (
    detail: string
  ): FramingError => (failed = new FramingError({ reason: "Corrupted", codec: CODEC, detail }))

  /**
   * Feed varint bytes from `chunk[pos]`; returns the new position. Sets `varintBytes = -1` when
   * the varint is complete (length in `value`), or `failed`.
   */
  const readVarint = (chunk: Uint8Array, pos: number): number => {
    const n = chunk.length
    while (pos < n) {
      const byte = chunk[pos++]
      value += (byte & 0x7f) * scale
      scale *= 128
      varintBytes++
      if (byte < 0x80) {
        if (byte === 0 && varintBytes > 1 && !s.allowNonMinimal) {
          corrupted(`non-minimal varint (${varintBytes} bytes, last one 0x00)`)
          return pos
        }
        varintBytes = -1
        return pos
      }
      if (varintBytes >= s.maxVarintBytes) {
        corrupted(`varint longer than ${s.maxVarintBytes} bytes`)
        return pos
      }
    }
    return pos
  }

  /** The varint is complete: check the length. */
  const checkLength = (): FramingError | undefined => {
    const length = value
    value = 0
    scale = 1
    varintBytes = 0
    if (length > s.maxFrameLength) {
      return (failed = new FramingError({
        reason: "FrameTooLarge",
        codec: CODEC,
        limit: s.maxFrameLength,
        actual: length
      }))
    }
    frameLength = length
    return undefined
  }

  const decode = (chunk: Uint8Array, out: Array<Uint8Array>, lent = false): FramingError | undefined => {
    if (failed !== undefined) return failed
    const n = chunk.length
    let pos = 0
    if (inBody) {
      const take = Math.min(frameLength - body.length, n)
      body.append(chunk, 0, take, frameLength, lent)
      pos = take
      if (body.length < frameLength) return undefined
      inBody = false
      out.push(body.take())
    }
    while (pos < n) {
      pos = readVarint(chunk, pos)
      if (failed !== undefined) return failed
      if (varintBytes !== -1) return undefined // varint continues in the next chunk
      const error = checkLength()
      if (error !== undefined) return error
      if (n - pos >= frameLength) {
        out.push(chunk.subarray(pos, pos + frameLength))
        pos += frameLength
      } else {
        inBody = true
        body.append(chunk, pos, n, frameLength, lent)
        return undefined
      }
    }
    return undefined
  }

  return {
    decode,
    finish() {
      if (failed !== undefined) return failed
      const buffered = inBody ? body.length : varintBytes
      if (!inBody && varintBytes === 0) return undefined
      return (failed = new FramingError({
        reason: "Truncated",
        codec: CODEC,
        buffered,
        detail: inBody ? `frame of ${frameLength} bytes, ${frameLength - body.length} missing` : "inside a varint"
      }))
    },
    get buffered() {
      return inBody ? body.held : varintBytes
    }
  }
}

const encoder = (s: Settings): FrameEncoder => ({
  encode(frame, buf: ByteBuffer.ByteBuffer) {
    const n = frame.length
    if (n > s.maxFrameLength) {
      return new FramingError({ reason: "FrameTooLarge", codec: CODEC, limit: s.maxFrameLength, actual: n })
    }
    buf.reserve(n + 8)
    buf.writeVarint(n)
    buf.writeBytes(frame)
    return undefined
  }
})
