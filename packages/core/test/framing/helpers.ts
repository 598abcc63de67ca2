/**
 * Shared helpers for the framing tests.
 */
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import type { FrameDecoder, Framing, FramingError } from "../../src/Framing.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Uint8Array => encoder.encode(s)

/** Bytes from numbers. */
export const u8 = (...values: Array<number>): Uint8Array => new Uint8Array(values)

/** Decode UTF-8 (non-fatal) for readable assertions. */
export const str = (b: Uint8Array): string => decoder.decode(b)

/** Concatenate byte arrays. */
export const concat = (...parts: Array<Uint8Array>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Cut `data` at the given (unsorted, possibly repeated) positions. Repeats give empty chunks. */
export const cut = (data: Uint8Array, points: ReadonlyArray<number>): Array<Uint8Array> => {
  const sorted = [...points].map((p) => Math.max(0, Math.min(data.length, p))).sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let prev = 0
  for (const p of sorted) {
    chunks.push(data.slice(prev, p))
    prev = p
  }
  chunks.push(data.slice(prev))
  return chunks
}

/** Result of feeding a whole stream. */
export interface Run {
  readonly frames: Array<Uint8Array>
  readonly error: FramingError | undefined
  /** `"decode"` when a `decode` call failed, `"finish"` when `finish` did. */
  readonly failedIn: "decode" | "finish" | undefined
  readonly decoder: FrameDecoder
}

/** Feed `chunks` to a fresh decoder of `framing` (stopping at the first error), then finish. */
export const run = (framing: Framing, chunks: ReadonlyArray<Uint8Array>, finish = true): Run => {
  const dec = framing.decoder()
  const frames: Array<Uint8Array> = []
  for (const chunk of chunks) {
    const error = dec.decode(chunk, frames)
    if (error !== undefined) return { frames, error, failedIn: "decode", decoder: dec }
  }
  if (!finish) return { frames, error: undefined, failedIn: undefined, decoder: dec }
  const error = dec.finish(frames)
  return { frames, error, failedIn: error === undefined ? undefined : "finish", decoder: dec }
}

/** Frames as hex strings (for exact byte comparisons with readable diffs). */
export const hex = (frames: ReadonlyArray<Uint8Array>): Array<string> =>
  frames.map((f) => Array.from(f, (b) => b.toString(16).padStart(2, "0")).join(" "))

/** Every two-chunk split of `data` (including the empty prefix/suffix). */
export const everySplit = (data: Uint8Array): Array<Array<Uint8Array>> => {
  const out: Array<Array<Uint8Array>> = []
  for (let i = 0; i <= data.length; i++) out.push([data.slice(0, i), data.slice(i)])
  return out
}

/** Arbitrary chunking of a stream of length `n`: split points. */
export const splitPoints = (maxPoints = 12): fc.Arbitrary<Array<number>> => fc.array(fc.nat(), { maxLength: maxPoints })

/** Cut `data` at `points` taken modulo `data.length + 1`. */
export const cutMod = (data: Uint8Array, points: ReadonlyArray<number>): Array<Uint8Array> =>
  cut(data, points.map((p) => p % (data.length + 1)))

/** Encode frames with a fresh encoder into one buffer; throws if the encoder refuses one. */
export const encodeAll = (framing: Framing, frames: ReadonlyArray<Uint8Array>): Uint8Array => {
  const enc = framing.encoder()
  const buf = ByteBuffer.make(16)
  for (const frame of frames) {
    const error = enc.encode(frame, buf)
    if (error !== undefined) throw error
  }
  return buf.take()
}

/** Same underlying memory? (a zero-copy view of `chunk`) */
export const isViewOf = (frame: Uint8Array, chunk: Uint8Array): boolean =>
  frame.buffer === chunk.buffer && frame.byteOffset >= chunk.byteOffset &&
  frame.byteOffset + frame.length <= chunk.byteOffset + chunk.length

/** Reference unsigned LEB128 encoder (bigint based, independent of ByteBuffer and Varint). */
export const leb128 = (value: bigint): Array<number> => {
  const out: Array<number> = []
  do {
    let b = Number(value & 0x7fn)
    value >>= 7n
    if (value > 0n) b |= 0x80
    out.push(b)
  } while (value > 0n)
  return out
}
