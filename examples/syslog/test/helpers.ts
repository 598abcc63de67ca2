/** Helpers of the syslog example's tests. */
import type { Codec, Framing } from "@wirekit/core"

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** UTF-8 bytes of `s`. */
export const bytes = (s: string): Uint8Array => utf8.encode(s)

/** Bytes as a string (UTF-8). */
export const str = (b: Uint8Array): string => text.decode(b)

/** Bytes as one array. */
export const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** What a decoder made of some chunks: frames (copied), the first error, the error at finish. */
export interface Decoded {
  readonly frames: Array<string>
  readonly error: Framing.FramingError | undefined
  readonly finish: Framing.FramingError | undefined
  /** The largest `buffered` seen after a chunk. */
  readonly maxBuffered: number
}

/**
 * Feeds `chunks` to a fresh decoder of `codec` (as lent chunks when `lent`:
 * each is overwritten with 0xee after its call, as a runtime reusing its
 * read buffer would), then finishes it.
 */
export const decodeChunks = (
  codec: Codec.Codec<Uint8Array, unknown>,
  chunks: ReadonlyArray<Uint8Array>,
  lent = false
): Decoded => {
  const decoder = codec.decoder()
  const frames: Array<string> = []
  const out: Array<Uint8Array> = []
  let error: Framing.FramingError | undefined
  let maxBuffered = 0
  for (const original of chunks) {
    const chunk = lent ? original.slice() : original
    error = decoder.decode(chunk, out, lent)
    for (const f of out) frames.push(str(f))
    out.length = 0
    if (lent) chunk.fill(0xee)
    maxBuffered = Math.max(maxBuffered, decoder.buffered)
    if (error !== undefined) return { frames, error, finish: undefined, maxBuffered }
  }
  const finish = decoder.finish(out)
  for (const f of out) frames.push(str(f))
  return { frames, error, finish, maxBuffered }
}

/** `wire` cut at `cuts` (sorted offsets). */
export const cutAt = (wire: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const c of cuts) {
    chunks.push(wire.subarray(from, c))
    from = c
  }
  chunks.push(wire.subarray(from))
  return chunks
}

/** Every way of cutting `wire` in two, and byte by byte. */
export const everySplit = (wire: Uint8Array): Array<Array<Uint8Array>> => {
  const ways: Array<Array<Uint8Array>> = []
  for (let i = 0; i <= wire.length; i++) ways.push(cutAt(wire, [i]))
  ways.push(Array.from(wire, (b) => Uint8Array.of(b)))
  return ways
}
