/**
 * The decoder/encoder engine shared by `Lines` and `Delimiter`.
 *
 * ```
 *   chunk k:    [ ...frame A... DELIM ...frame B... DE ]   A: zero-copy view; "...B... DE" held
 *   chunk k+1:  [ LIM ...frame C... DELIM ]                 B: copied (held ++ head); C: view
 *                 ^ delimiters split across chunks are found through a small "seam" window
 * ```
 *
 * @internal
 */
import type * as ByteBuffer from "../../ByteBuffer.ts"
import { type FrameDecoder, type FrameEncoder, FramingError } from "../../Framing.ts"
import { Accumulator } from "./Accumulator.ts"
import type { Matcher } from "./Matcher.ts"

/** Information passed to `onDiscard` when an over-long frame has been dropped. */
export interface DiscardInfo {
  /** The configured maximum frame length. */
  readonly limit: number
  /** Length of the dropped frame content (delimiter excluded); bytes seen when cut short by EOF. */
  readonly actual: number
}

/** Resolved settings of a delimited codec. */
export interface DelimitedSettings {
  readonly codec: string
  readonly makeMatcher: () => Matcher
  readonly maxLength: number
  readonly stripDelimiter: boolean
  readonly onTooLong: "fail" | "discard"
  readonly onDiscard: ((info: DiscardInfo) => void) | undefined
  readonly emitLastAtEof: boolean
}

/** A delimited-frame decoder: a {@link FrameDecoder} that also counts discarded frames. */
export interface DelimitedDecoder extends FrameDecoder {
  /** Number of over-long frames dropped so far (`onTooLong: "discard"`). */
  readonly discarded: number
}

/** Build a fresh decoder. */
export const decoder = (s: DelimitedSettings): DelimitedDecoder => {
  const matcher = s.makeMatcher()
  const max = s.maxLength
  const seamHalf = matcher.maxLength - 1
  const seam = new Uint8Array(seamHalf * 2)
  const held = new Accumulator()
  // hard cap for held bytes: max content + a partial delimiter
  const heldCap = max + seamHalf
  let failed: FramingError | undefined
  let discarding = false
  let dropped = 0 // content bytes already thrown away while discarding
  let discarded = 0

  const tooLong = (
    actual: number
  ): FramingError => (failed = new FramingError({ reason: "FrameTooLarge", codec: s.codec, limit: max, actual }))

  const reportDiscard = (actual: number): void => {
    discarded++
    if (s.onDiscard !== undefined) s.onDiscard({ limit: max, actual })
  }

  /** A delimiter ended at `chunk[cEnd]` (exclusive) while bytes were held; the frame started in `held`. */
  const completeHeld = (
    chunk: Uint8Array,
    cEnd: number,
    matchLength: number,
    out: Array<Uint8Array>
  ): FramingError | undefined => {
    const contentLength = dropped + held.length + cEnd - matchLength
    if (discarding) {
      discarding = false
      dropped = 0
      held.reset()
      reportDiscard(contentLength)
      return undefined
    }
    if (contentLength > max) {
      held.reset()
      if (s.onTooLong === "fail") return tooLong(contentLength)
      reportDiscard(contentLength)
      return undefined
    }
    out.push(held.concatOut(chunk, s.stripDelimiter ? contentLength : contentLength + matchLength))
    return undefined
  }

  /** `chunk` holds no delimiter end; bytes are already held (or we are discarding). */
  const holdMore = (chunk: Uint8Array): FramingError | undefined => {
    const n = chunk.length
    if (discarding) {
      const before = held.length
      if (n >= seamHalf) {
        held.reset()
        held.append(chunk, n - seamHalf, n)
      } else {
        held.append(chunk, 0, n)
        held.keepLast(seamHalf)
      }
      dropped += before + n - held.length
      return undefined
    }
    const total = held.length + n
    let k: number
    if (n >= seamHalf) {
      k = matcher.partial(chunk, 0, n)
    } else {
      held.append(chunk, 0, n, heldCap + n)
      k = matcher.partial(held.buf, 0, held.length)
    }
    if (total - k > max) return startTooLong(total - k, total, chunk, 0, n < seamHalf)
    if (n >= seamHalf) held.append(chunk, 0, n, heldCap)
    return undefined
  }

  /**
   * The frame in progress (`total` bytes, at least `contentLength` of content) is too long and
   * no delimiter has been seen: fail, or start discarding (keeping a partial delimiter).
   * `chunkHeld`: `chunk[pos..]` was already appended to `held`.
   */
  const startTooLong = (
    contentLength: number,
    total: number,
    chunk: Uint8Array,
    pos: number,
    chunkHeld: boolean
  ): FramingError | undefined => {
    if (s.onTooLong === "fail") {
      held.reset()
      return tooLong(contentLength)
    }
    discarding = true
    // keep the last seamHalf bytes of (held ++ chunk[pos..]) so a split delimiter is still found
    const n = chunk.length - pos
    if (n >= seamHalf) {
      held.reset()
      held.append(chunk, chunk.length - seamHalf, chunk.length)
    } else {
      if (!chunkHeld) held.append(chunk, pos, chunk.length)
      held.keepLast(seamHalf)
    }
    dropped = total - held.length
    return undefined
  }

  const decode = (chunk: Uint8Array, out: Array<Uint8Array>): FramingError | undefined => {
    if (failed !== undefined) return failed
    const n = chunk.length
    let pos = 0
    if (held.length > 0 || discarding) {
      if (n === 0) return undefined
      let cEnd = -1
      let matchLength = 0
      if (seamHalf > 0 && held.length > 0) {
        // a delimiter split across the boundary ends within the first seamHalf bytes of chunk
        const tail = Math.min(held.length, seamHalf)
        const head = Math.min(n, seamHalf)
        seam.set(held.buf.subarray(held.length - tail, held.length), 0)
        seam.set(chunk.subarray(0, head), tail)
        matcher.begin()
        const e = matcher.find(seam, 0, tail + head)
        if (e > tail) {
          cEnd = e - tail
          matchLength = matcher.matchLength
        }
      }
      matcher.begin()
      if (cEnd < 0) {
        cEnd = matcher.find(chunk, 0, n)
        matchLength = matcher.matchLength
      }
      if (cEnd < 0) return holdMore(chunk)
      const error = completeHeld(chunk, cEnd, matchLength, out)
      if (error !== undefined) return error
      pos = cEnd
    } else {
      matcher.begin()
    }
    while (pos < n) {
      const e = matcher.find(chunk, pos, n)
      if (e < 0) break
      const matchLength = matcher.matchLength
      const contentLength = e - matchLength - pos
      if (contentLength > max) {
        if (s.onTooLong === "fail") return tooLong(contentLength)
        reportDiscard(contentLength)
      } else {
        out.push(chunk.subarray(pos, s.stripDelimiter ? e - matchLength : e))
      }
      pos = e
    }
    if (pos < n) {
      const rest = n - pos
      const k = matcher.partial(chunk, pos, n)
      if (rest - k > max) return startTooLong(rest - k, rest, chunk, pos, false)
      held.append(chunk, pos, n, heldCap)
    }
    return undefined
  }

  const finish = (out: Array<Uint8Array>): FramingError | undefined => {
    if (failed !== undefined) return failed
    if (discarding) {
      const actual = dropped + held.length
      discarding = false
      dropped = 0
      held.reset()
      reportDiscard(actual)
      return undefined
    }
    if (held.length === 0) return undefined
    if (!s.emitLastAtEof) {
      return (failed = new FramingError({
        reason: "Truncated",
        codec: s.codec,
        buffered: held.length,
        detail: "no delimiter after the last frame"
      }))
    }
    // held bytes that could have started a delimiter are content now
    const length = held.length
    if (length > max) {
      held.reset()
      if (s.onTooLong === "fail") return tooLong(length)
      reportDiscard(length)
      return undefined
    }
    out.push(held.take())
    return undefined
  }

  return {
    decode,
    finish,
    get buffered() {
      return held.length
    },
    get discarded() {
      return discarded
    }
  }
}

/**
 * Build a fresh encoder: `frame ++ delimiter`, refusing frames the decoder would not give back
 * unchanged (frame over max, a delimiter inside, or a frame end that merges with the appended
 * delimiter into a longer one, e.g. "a\r" + "\n" under CRLF-or-LF).
 */
export const encoder = (s: DelimitedSettings, delimiter: Uint8Array): FrameEncoder => {
  const matcher = s.makeMatcher()
  const seamHalf = matcher.maxLength - 1
  const scratch = new Uint8Array(seamHalf + delimiter.length)
  scratch.set(delimiter, seamHalf)
  return {
    encode(frame, buf: ByteBuffer.ByteBuffer) {
      const n = frame.length
      if (n > s.maxLength) {
        return new FramingError({ reason: "FrameTooLarge", codec: s.codec, limit: s.maxLength, actual: n })
      }
      matcher.begin()
      if (matcher.find(frame, 0, n) >= 0) {
        return new FramingError({ reason: "Corrupted", codec: s.codec, detail: "the frame contains a delimiter" })
      }
      if (seamHalf > 0) {
        const tail = Math.min(n, seamHalf)
        const start = seamHalf - tail
        scratch.set(frame.subarray(n - tail, n), start)
        matcher.begin()
        const e = matcher.find(scratch, start, scratch.length)
        if (e !== scratch.length || matcher.matchLength !== delimiter.length) {
          return new FramingError({
            reason: "Corrupted",
            codec: s.codec,
            detail: "the end of the frame would merge with the appended delimiter"
          })
        }
      }
      buf.reserve(n + delimiter.length)
      buf.writeBytes(frame)
      buf.writeBytes(delimiter)
      return undefined
    }
  }
}
