/**
 * Length-field framing: each frame carries its own length in a fixed-size integer field.
 *
 * ```
 *   |<- fieldOffset ->|<- fieldLength ->|<------------- body ------------->|
 *   +-----------------+-----------------+----------------------------------+
 *   |  prefix bytes   |  length value   |  value + lengthAdjustment bytes  |
 *   +-----------------+-----------------+----------------------------------+
 *   |<---- header (headerLength = fieldOffset + fieldLength) ---->|
 *   |<- bytesToStrip ->|  emitted frame = wire bytes after bytesToStrip ...>|
 * ```
 *
 * Examples (`bytesToStrip` default = the whole header):
 * ```
 *   fieldLength 2:                          00 03 a b c        → "abc"
 *   fieldLength 2, lengthAdjustment -2      00 05 a b c        → "abc"     (length counts itself)
 *   fieldOffset 1, fieldLength 2,
 *     bytesToStrip 0:                       T  00 03 a b c     → "T\0\3abc"
 *   fieldLength 3, endian "little":         03 00 00 a b c     → "abc"
 * ```
 *
 * - `maxFrameLength` bounds the BODY: the declared value after `lengthAdjustment` (the header is
 *   not counted). It is checked as soon as the header is read, before any body byte is buffered.
 * - A declared body that is negative after adjustment, or shorter than what `bytesToStrip` needs,
 *   is `Corrupted`. An 8-byte value above 2^53-1 is `FrameTooLarge`.
 * - Memory for a frame spanning chunks is committed as its bytes arrive, not when the header
 *   announces it.
 *
 * @example
 * ```ts
 * import * as LengthField from "./LengthField.ts"
 * const framing = LengthField.make({ fieldLength: 4, maxFrameLength: 1 << 20 })
 * ```
 *
 * @since 0.1.0
 */
import type * as ByteBuffer from "./ByteBuffer.ts"
import { type FrameDecoder, type FrameEncoder, type Framing, FramingError } from "./Framing.ts"
import * as Config from "./internal/framing/config.ts"
import { Pieces } from "./internal/framing/Pieces.ts"

const CODEC = "LengthField"

/**
 * Default `maxFrameLength`: 8 MiB of body (or less when the field cannot describe that much).
 * ```
 *   [ header ][ body: up to 8388608 bytes ]      fieldLength 1 → up to 255 (+ adjustment)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024

/**
 * Options of {@link make}.
 *
 * ```
 *   fieldOffset 1, fieldLength 2, lengthAdjustment 0, bytesToStrip 3:
 *     T 00 03 a b c   → "abc"   (T is skipped; use bytesToStrip 0 to keep it)
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Size of the length field in bytes: 1, 2, 3, 4 or 8. Default `4`. */
  readonly fieldLength?: 1 | 2 | 3 | 4 | 8
  /** Byte order of the length field. Default `"big"`. */
  readonly endian?: "big" | "little"
  /** Bytes before the length field (part of the header), at most 65535. Default `0`. */
  readonly fieldOffset?: number
  /**
   * Added to the field value to get the body length (signed). E.g. `-fieldLength` when the value
   * counts the length field itself, `-(fieldOffset + fieldLength)` when it counts the whole header.
   * Default `0`.
   */
  readonly lengthAdjustment?: number
  /** Bytes removed from the front of each emitted frame. Default: the header length. */
  readonly bytesToStrip?: number
  /** Largest body (value + adjustment). Default: 8 MiB, capped to what the field can describe. */
  readonly maxFrameLength?: number
}

/**
 * Length-field framing.
 *
 * Encoder (prepender): takes `prefix ++ body`, where `prefix` is the first `fieldOffset` bytes
 * of the frame (nothing when `fieldOffset` is 0), and writes `prefix ++ field ++ body` with
 * `field = body.length - lengthAdjustment`:
 * ```
 *   fieldLength 2, encode("abc")                → 00 03 a b c
 *   fieldOffset 1, fieldLength 2, encode("Tabc") → T 00 03 a b c
 * ```
 * It refuses a body above `maxFrameLength` (`FrameTooLarge`; `make` guarantees that every body
 * up to the max fits the field), and a frame shorter than `fieldOffset` or a body shorter than a
 * positive `lengthAdjustment` (a negative field value: `Corrupted`). `bytesToStrip` only affects
 * decoding: the decoder emits `(prefix ++ field ++ body)` minus its first `bytesToStrip` bytes, so
 * with `fieldOffset` 0 and the default `bytesToStrip`, `decode(encode(x)) = x`.
 *
 * @throws FramingConfigError when an option is not an integer in range (`fieldLength` not in
 *   1|2|3|4|8, `fieldOffset` outside [0, 65535], negative `bytesToStrip`/`maxFrameLength`, non safe-integer
 *   `lengthAdjustment`), when `maxFrameLength` exceeds what the field can describe
 *   (`fieldMax + lengthAdjustment`, e.g. `fieldLength: 1, maxFrameLength: 300`), when every field
 *   value would give a negative body, or when `bytesToStrip` exceeds `header + maxFrameLength`
 *   (every frame would be Corrupted).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Framing => {
  const fieldLength = Config.oneOf(CODEC, "fieldLength", options.fieldLength, 4, [1, 2, 3, 4, 8] as const)
  const little = Config.oneOf(CODEC, "endian", options.endian, "big", ["big", "little"] as const) === "little"
  const fieldOffset = Config.integer(CODEC, "fieldOffset", options.fieldOffset, 0, 0, 65535)
  const adjustment = Config.integer(
    CODEC,
    "lengthAdjustment",
    options.lengthAdjustment,
    0,
    -Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER
  )
  const headerLength = fieldOffset + fieldLength
  const fieldMax = fieldLength === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * fieldLength) - 1
  const largestBody = Math.min(Number.MAX_SAFE_INTEGER, fieldMax + adjustment)
  if (largestBody < 0) {
    Config.fail(CODEC, "lengthAdjustment", `${adjustment} makes every body negative (largest field value ${fieldMax})`)
  }
  const maxFrameLength = Config.integer(
    CODEC,
    "maxFrameLength",
    options.maxFrameLength,
    Math.min(DEFAULT_MAX_FRAME_LENGTH, largestBody),
    0,
    Number.MAX_SAFE_INTEGER
  )
  if (maxFrameLength > largestBody) {
    Config.fail(
      CODEC,
      "maxFrameLength",
      `${maxFrameLength} exceeds the largest body a ${fieldLength}-byte field can describe (${fieldMax}${
        adjustment === 0 ? "" : ` ${adjustment < 0 ? "-" : "+"} ${Math.abs(adjustment)}`
      } = ${largestBody})`
    )
  }
  const bytesToStrip = Config.integer(
    CODEC,
    "bytesToStrip",
    options.bytesToStrip,
    headerLength,
    0,
    headerLength + maxFrameLength
  )
  const settings: Settings = {
    fieldLength,
    little,
    fieldOffset,
    adjustment,
    headerLength,
    maxFrameLength,
    bytesToStrip
  }
  return {
    codec: CODEC,
    maxFrameLength,
    decoder: () => decoder(settings),
    encoder: () => encoder(settings)
  }
}

interface Settings {
  readonly fieldLength: 1 | 2 | 3 | 4 | 8
  readonly little: boolean
  readonly fieldOffset: number
  readonly adjustment: number
  readonly headerLength: number
  readonly maxFrameLength: number
  readonly bytesToStrip: number
}

const TWO_32 = 4294967296

/** Read the unsigned field at `buf[at, at + fieldLength)` (8 bytes: may exceed 2^53, then imprecise). */
const readField = (buf: Uint8Array, at: number, fieldLength: number, little: boolean): number => {
  switch (fieldLength) {
    case 1:
      return buf[at]
    case 2:
      return little ? buf[at] | (buf[at + 1] << 8) : (buf[at] << 8) | buf[at + 1]
    case 3:
      return little
        ? buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)
        : (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2]
    case 4:
      return readUint32(buf, at, little)
    default: {
      const first = readUint32(buf, at, little)
      const second = readUint32(buf, at + 4, little)
      return little ? second * TWO_32 + first : first * TWO_32 + second
    }
  }
}

const readUint32 = (buf: Uint8Array, at: number, little: boolean): number =>
  little
    ? (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16)) + buf[at + 3] * 0x1000000
    : buf[at] * 0x1000000 + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3])

const decoder = (s: Settings): FrameDecoder => new LengthFieldDecoder(s)

const NO_HEADER = new Uint8Array(0)

/**
 * One connection's decoding state. A class (methods on the prototype) whose
 * header scratch is made when a header first arrives split: a connection
 * waiting for its peer holds one small object.
 */
class LengthFieldDecoder implements FrameDecoder {
  private header = NO_HEADER
  private readonly body = new Pieces()
  private headerFill = 0 // header bytes held (state "reading a split header")
  private inBody = false // header read, frame spans chunks: collecting into `body`
  private frameWire = 0 // wire length of the frame being collected
  private received = 0 // wire bytes of it received so far
  private failed: FramingError | undefined = undefined

  constructor(private readonly s: Settings) {}

  /** Body length declared by the header at `buf[at]`, or a FramingError. */
  private bodyLength(buf: Uint8Array, at: number): number | FramingError {
    const s = this.s
    const value = readField(buf, at + s.fieldOffset, s.fieldLength, s.little)
    if (value > Number.MAX_SAFE_INTEGER) {
      return new FramingError({
        reason: "FrameTooLarge",
        codec: CODEC,
        limit: s.maxFrameLength,
        actual: value + s.adjustment,
        detail: "the 8-byte length is above 2^53-1"
      })
    }
    const length = value + s.adjustment
    if (length > s.maxFrameLength) {
      return new FramingError({ reason: "FrameTooLarge", codec: CODEC, limit: s.maxFrameLength, actual: length })
    }
    if (length < 0) {
      return new FramingError({
        reason: "Corrupted",
        codec: CODEC,
        detail: `length ${value} with adjustment ${s.adjustment} gives a negative body (${length})`
      })
    }
    if (s.headerLength + length < s.bytesToStrip) {
      return new FramingError({
        reason: "Corrupted",
        codec: CODEC,
        detail: `frame of ${s.headerLength + length} bytes is shorter than bytesToStrip (${s.bytesToStrip})`
      })
    }
    return length
  }

  /** Copy wire bytes `chunk[pos, pos + n)` (frame offsets `[received, received + n)`) into the body. */
  private collect(chunk: Uint8Array, pos: number, n: number, lent: boolean): void {
    const s = this.s
    const skip = Math.max(0, Math.min(n, s.bytesToStrip - this.received))
    if (n > skip) this.body.append(chunk, pos + skip, pos + n, this.frameWire - s.bytesToStrip, lent)
    this.received += n
  }

  decode(chunk: Uint8Array, out: Array<Uint8Array>, lent = false): FramingError | undefined {
    if (this.failed !== undefined) return this.failed
    const s = this.s
    const n = chunk.length
    let pos = 0
    if (this.headerFill > 0) {
      const header = this.header
      const take = Math.min(s.headerLength - this.headerFill, n)
      for (let i = 0; i < take; i++) header[this.headerFill + i] = chunk[i]
      this.headerFill += take
      pos = take
      if (this.headerFill < s.headerLength) return undefined
      this.headerFill = 0
      const length = this.bodyLength(header, 0)
      if (typeof length !== "number") return (this.failed = length)
      this.frameWire = s.headerLength + length
      this.received = 0
      this.inBody = true
      this.collect(header, 0, s.headerLength, true)
    }
    if (this.inBody) {
      const take = Math.min(this.frameWire - this.received, n - pos)
      this.collect(chunk, pos, take, lent)
      pos += take
      if (this.received < this.frameWire) return undefined
      this.inBody = false
      out.push(this.body.take())
    }
    while (n - pos >= s.headerLength) {
      const length = this.bodyLength(chunk, pos)
      if (typeof length !== "number") return (this.failed = length)
      const wire = s.headerLength + length
      if (n - pos >= wire) {
        out.push(chunk.subarray(pos + s.bytesToStrip, pos + wire))
        pos += wire
        continue
      }
      this.frameWire = wire
      this.received = 0
      this.inBody = true
      this.collect(chunk, pos, n - pos, lent)
      return undefined
    }
    if (pos < n) {
      if (this.header === NO_HEADER) this.header = new Uint8Array(s.headerLength)
      const header = this.header
      for (let i = pos; i < n; i++) header[this.headerFill++] = chunk[i]
    }
    return undefined
  }

  finish(): FramingError | undefined {
    if (this.failed !== undefined) return this.failed
    const s = this.s
    const buffered = this.inBody ? this.received : this.headerFill
    if (buffered === 0) return undefined
    return (this.failed = new FramingError({
      reason: "Truncated",
      codec: CODEC,
      buffered,
      detail: this.inBody
        ? `frame of ${this.frameWire} bytes, ${this.frameWire - this.received} missing`
        : `header of ${s.headerLength} bytes, ${s.headerLength - this.headerFill} missing`
    }))
  }

  get buffered(): number {
    // the wire bytes received, plus what kept views hold beyond the bytes they show
    return this.inBody ? this.received + this.body.held - this.body.length : this.headerFill
  }
}

const encoder = (s: Settings): FrameEncoder => {
  return {
    encode(frame, buf: ByteBuffer.ByteBuffer) {
      if (frame.length < s.fieldOffset) {
        return new FramingError({
          reason: "Corrupted",
          codec: CODEC,
          detail: `frame of ${frame.length} bytes is shorter than its ${s.fieldOffset}-byte prefix (fieldOffset)`
        })
      }
      const bodyLength = frame.length - s.fieldOffset
      if (bodyLength > s.maxFrameLength) {
        return new FramingError({ reason: "FrameTooLarge", codec: CODEC, limit: s.maxFrameLength, actual: bodyLength })
      }
      // maxFrameLength <= fieldMax + lengthAdjustment (checked by make): value always fits the field
      const value = bodyLength - s.adjustment
      if (value < 0) {
        return new FramingError({
          reason: "Corrupted",
          codec: CODEC,
          detail: `body of ${bodyLength} bytes cannot be expressed with lengthAdjustment ${s.adjustment}`
        })
      }
      buf.reserve(frame.length + s.fieldLength)
      if (s.fieldOffset > 0) buf.writeBytes(frame, 0, s.fieldOffset)
      switch (s.fieldLength) {
        case 1:
          buf.writeUint8(value)
          break
        case 2:
          if (s.little) buf.writeUint16LE(value)
          else buf.writeUint16BE(value)
          break
        case 3:
          if (s.little) buf.writeUint24LE(value)
          else buf.writeUint24BE(value)
          break
        case 4:
          if (s.little) buf.writeUint32LE(value)
          else buf.writeUint32BE(value)
          break
        case 8:
          if (s.little) buf.writeUint64LE(value)
          else buf.writeUint64BE(value)
          break
      }
      buf.writeBytes(frame, s.fieldOffset, frame.length)
      return undefined
    }
  }
}
