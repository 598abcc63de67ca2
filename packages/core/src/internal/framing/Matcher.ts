/**
 * Delimiter search for the delimiter-based codecs (`Lines`, `Delimiter`).
 *
 * Rule: the match that ENDS first wins; among matches ending at the same byte the longest wins
 * (it yields the shortest frame). The rule only looks at bytes up to the end of the match, so the
 * result never depends on how the stream was chunked, and `["\r\n", "\n"]` means "CRLF or LF".
 *
 * ```
 *   delimiters "\r\n", "\n":   a b \r \n      → match ends after \n, length 2 → frame "ab"
 *                              a b \n         → length 1                      → frame "ab"
 * ```
 *
 * @internal
 */

const LF = 10
const CR = 13

/** Stateful (per decoder/encoder) delimiter finder. */
export interface Matcher {
  /** Length of the longest delimiter. */
  readonly maxLength: number
  /** Length of the match returned by the last successful {@link Matcher.find}. */
  matchLength: number
  /** Forget cached search state: call before scanning a new buffer. */
  begin(): void
  /**
   * End (exclusive) of the first-ending match lying in `buf[from, to)`, or -1. Successive calls
   * between two `begin()` must use the same `buf`/`to` and non-decreasing `from`.
   */
  find(buf: Uint8Array, from: number, to: number): number
  /**
   * The largest `k < maxLength`, `k <= to - from`, such that `buf[to-k, to)` is a proper prefix
   * of some delimiter (bytes that may still become a delimiter when more input arrives).
   */
  partial(buf: Uint8Array, from: number, to: number): number
}

/** `\n` only. */
export const lf = (): Matcher => ({
  maxLength: 1,
  matchLength: 1,
  begin() {},
  find(buf, from, to) {
    const i = buf.indexOf(LF, from)
    return i < 0 || i >= to ? -1 : i + 1
  },
  partial() {
    return 0
  }
})

/** `\r\n` or `\n` (a CR right before the LF is part of the delimiter). */
export const crlfOrLf = (): Matcher => {
  const m: Matcher = {
    maxLength: 2,
    matchLength: 1,
    begin() {},
    find(buf, from, to) {
      const i = buf.indexOf(LF, from)
      if (i < 0 || i >= to) return -1
      m.matchLength = i > from && buf[i - 1] === CR ? 2 : 1
      return i + 1
    },
    partial(buf, from, to) {
      return to > from && buf[to - 1] === CR ? 1 : 0
    }
  }
  return m
}

/** Start of `delim` in `buf[from, to)` (the whole delimiter must fit before `to`), or -1. */
const indexOfSequence = (buf: Uint8Array, delim: Uint8Array, from: number, to: number): number => {
  const first = delim[0]
  const n = delim.length
  const last = to - n
  let i = from
  while (i <= last) {
    i = buf.indexOf(first, i)
    if (i < 0 || i > last) return -1
    let j = 1
    while (j < n && buf[i + j] === delim[j]) j++
    if (j === n) return i
    i++
  }
  return -1
}

/** One or more arbitrary delimiters (non-empty, distinct). */
export const sequences = (delimiters: ReadonlyArray<Uint8Array>): Matcher => {
  const count = delimiters.length
  let maxLength = 0
  for (const d of delimiters) maxLength = Math.max(maxLength, d.length)
  const partial = (buf: Uint8Array, from: number, to: number): number => {
    for (let k = Math.min(maxLength - 1, to - from); k > 0; k--) {
      for (let d = 0; d < count; d++) {
        const delim = delimiters[d]
        if (delim.length <= k) continue
        let j = 0
        while (j < k && buf[to - k + j] === delim[j]) j++
        if (j === k) return k
      }
    }
    return 0
  }
  if (count === 1) {
    const delim = delimiters[0]
    const single: Matcher = {
      maxLength,
      matchLength: maxLength,
      begin() {},
      find(buf, from, to) {
        if (maxLength === 1) {
          const i = buf.indexOf(delim[0], from)
          return i < 0 || i >= to ? -1 : i + 1
        }
        const i = indexOfSequence(buf, delim, from, to)
        return i < 0 ? -1 : i + maxLength
      },
      partial
    }
    return single
  }
  // Several delimiters: remember each one's next start so that many frames in one chunk do not
  // rescan the chunk once per delimiter per frame. NOT_SEARCHED / NONE are sentinels.
  const NOT_SEARCHED = -2
  const NONE = -1
  const next = new Array<number>(count).fill(NOT_SEARCHED)
  const m: Matcher = {
    maxLength,
    matchLength: 1,
    begin() {
      next.fill(NOT_SEARCHED)
    },
    find(buf, from, to) {
      let bestEnd = -1
      let bestLength = 0
      for (let d = 0; d < count; d++) {
        let start = next[d]
        if (start === NONE) continue
        if (start < from) {
          start = indexOfSequence(buf, delimiters[d], from, to)
          next[d] = start
          if (start < 0) continue
        }
        const len = delimiters[d].length
        const end = start + len
        if (bestEnd < 0 || end < bestEnd || (end === bestEnd && len > bestLength)) {
          bestEnd = end
          bestLength = len
        }
      }
      if (bestEnd >= 0) m.matchLength = bestLength
      return bestEnd
    },
    partial
  }
  return m
}
