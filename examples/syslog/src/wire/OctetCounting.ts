/**
 * RFC 6587 octet-counting framing (section 3.4.1): every message is preceded
 * by its length in decimal and one space.
 *
 * ```
 *   wire:    1 1 SP < 1 3 > 1 SP - SP . . .   (11 bytes of message)
 *   frames:  "<13>1 - ..."
 * ```
 *
 * - `MSG-LEN = NONZERO-DIGIT *DIGIT`: a leading zero, a non-digit before the
 *   space or a missing space is `Corrupted`.
 * - A length above `maxLength` is `FrameTooLarge` as soon as its digits say
 *   so (before a byte of the message is buffered), so a peer never makes the
 *   decoder hold more than `maxLength` bytes.
 * - A message inside one chunk is a view into it; a message spanning chunks is
 *   copied into one buffer of its declared length.
 */
import type { Codec } from "@wirekit/core"
import { ByteBuffer, Framing } from "@wirekit/core"

/** The codec name in {@link Framing.FramingError.codec}. */
export const CODEC = "OctetCounting"

const SP = 0x20
const ZERO = 0x30
const NINE = 0x39

/** Options of {@link make}. */
export interface Options {
  /** Largest MSG-LEN accepted, in bytes. */
  readonly maxLength: number
}

/** The length prefix is being read: digits so far and their value. */
const LENGTH = 0
/** The message's bytes are being read. */
const BODY = 1

/** One connection's octet-counting state. */
class Decoder implements Codec.Decoder<Uint8Array> {
  private state: typeof LENGTH | typeof BODY = LENGTH
  private digits = 0
  private length = 0
  /** The message being assembled across chunks, `filled` bytes of `length`. */
  private body: Uint8Array | undefined
  private filled = 0
  private failed: Framing.FramingError | undefined

  constructor(private readonly maxLength: number) {}

  get buffered(): number {
    return this.state === BODY ? this.filled : this.digits
  }

  private fail(error: Framing.FramingError): Framing.FramingError {
    this.failed = error
    this.body = undefined
    return error
  }

  // a partial message is always copied (never kept as a view), so a lent chunk's reuse cannot touch it
  decode(chunk: Uint8Array, out: Array<Uint8Array>, _lent?: boolean): Framing.FramingError | undefined {
    if (this.failed !== undefined) return this.failed
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.state === LENGTH) {
        const b = chunk[i++]!
        if (b === SP) {
          if (this.digits === 0) return this.fail(corrupted("a space where MSG-LEN was expected"))
          this.state = BODY
          this.filled = 0
          continue
        }
        if (b < ZERO || b > NINE) {
          return this.fail(corrupted(`byte 0x${b.toString(16).padStart(2, "0")} in MSG-LEN`))
        }
        if (this.digits === 0 && b === ZERO) return this.fail(corrupted("MSG-LEN starts with 0"))
        this.length = this.length * 10 + (b - ZERO)
        this.digits++
        if (this.length > this.maxLength) {
          return this.fail(
            new Framing.FramingError({
              reason: "FrameTooLarge",
              codec: CODEC,
              limit: this.maxLength,
              actual: this.length
            })
          )
        }
        continue
      }
      const want = this.length - this.filled
      const available = n - i
      if (this.body === undefined && available >= want) {
        // the whole message is in this chunk: a view, no copy
        out.push(chunk.subarray(i, i + want))
        i += want
        this.reset()
        continue
      }
      if (this.body === undefined) this.body = new Uint8Array(this.length)
      const take = Math.min(want, available)
      this.body.set(chunk.subarray(i, i + take), this.filled)
      this.filled += take
      i += take
      if (this.filled === this.length) {
        out.push(this.body)
        this.reset()
      }
    }
    return undefined
  }

  private reset(): void {
    this.state = LENGTH
    this.digits = 0
    this.length = 0
    this.filled = 0
    this.body = undefined
  }

  finish(_out: Array<Uint8Array>): Framing.FramingError | undefined {
    if (this.failed !== undefined) return this.failed
    const buffered = this.buffered
    if (this.state === LENGTH && this.digits === 0) return undefined
    return this.fail(new Framing.FramingError({ reason: "Truncated", codec: CODEC, buffered }))
  }
}

const corrupted = (detail: string) => new Framing.FramingError({ reason: "Corrupted", codec: CODEC, detail })

const encoder = (maxLength: number): Codec.Encoder<Uint8Array> => ({
  encode: (message: Uint8Array, buf: ByteBuffer.ByteBuffer) => {
    if (message.length === 0) return corrupted("an empty message has no MSG-LEN (it starts with a non-zero digit)")
    if (message.length > maxLength) {
      return new Framing.FramingError({
        reason: "FrameTooLarge",
        codec: CODEC,
        limit: maxLength,
        actual: message.length
      })
    }
    const prefix = `${message.length} `
    for (let i = 0; i < prefix.length; i++) buf.writeUint8(prefix.charCodeAt(i))
    buf.writeBytes(message)
    return undefined
  }
})

/** Octet-counting framing: decoder as in the module docs; the encoder writes `LEN SP MSG`. */
export const make = (options: Options): Framing.Framing => {
  if (!Number.isInteger(options.maxLength) || options.maxLength < 1 || options.maxLength > 0x7fffffff) {
    throw new Framing.FramingConfigError({
      codec: CODEC,
      option: "maxLength",
      detail: `expected an integer in [1, 2^31-1], got ${options.maxLength}`
    })
  }
  return {
    codec: CODEC,
    maxFrameLength: options.maxLength,
    decoder: () => new Decoder(options.maxLength),
    encoder: () => encoder(options.maxLength)
  }
}

/** Prefixes `message` with its octet count (`LEN SP MSG`), for clients and tests. */
export const frame = (message: Uint8Array): Uint8Array => {
  const buf = new ByteBuffer.ByteBuffer()
  const error = encoder(0x7fffffff).encode(message, buf)
  if (error !== undefined) throw error
  return buf.take()
}
