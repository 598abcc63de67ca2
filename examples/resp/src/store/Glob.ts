/**
 * Glob-style matching as Redis's `KEYS` and `CONFIG GET` do it, on binary strings (one char per
 * byte).
 *
 * ```
 *   *        any run of bytes (also empty)        h?llo    one byte
 *   [ae]     one of a, e       [^e]  not e        [a-c]    a range (reversed ranges work: [c-a])
 *   \*       a literal *       (a trailing \ is a literal \; an unclosed [ runs to the end)
 * ```
 *
 * Runs in O(pattern × text) (one backtracking point for the last `*`), never exponential.
 *
 * @since 0.1.0
 */

const STAR = 42
const QUESTION = 63
const OPEN = 91
const CLOSE = 93
const CARET = 94
const BACKSLASH = 92
const DASH = 45

const lower = (c: number): number => (c >= 65 && c <= 90 ? c | 0x20 : c)

/**
 * Does the token at `pattern[pi]` (not a `*`) match the char `ch`? Returns the index after the
 * token when it does, `-1` when it does not.
 */
const matchOne = (pattern: string, pi: number, ch: number, nocase: boolean): number => {
  const len = pattern.length
  const c = pattern.charCodeAt(pi)
  if (c === QUESTION) return pi + 1
  if (c === OPEN) {
    let i = pi + 1
    const not = i < len && pattern.charCodeAt(i) === CARET
    if (not) i++
    let match = false
    while (true) {
      if (i >= len) break // unclosed: the class runs to the end of the pattern
      const k = pattern.charCodeAt(i)
      if (k === BACKSLASH && i + 1 < len) {
        if (eq(pattern.charCodeAt(i + 1), ch, nocase)) match = true
        i += 2
      } else if (k === CLOSE) {
        i++
        break
      } else if (i + 2 < len && pattern.charCodeAt(i + 1) === DASH) {
        let start = k
        let end = pattern.charCodeAt(i + 2)
        if (start > end) [start, end] = [end, start]
        const x = nocase ? lower(ch) : ch
        if (nocase) {
          start = lower(start)
          end = lower(end)
        }
        if (x >= start && x <= end) match = true
        i += 3
      } else {
        if (eq(k, ch, nocase)) match = true
        i++
      }
    }
    return match !== not ? i : -1
  }
  if (c === BACKSLASH && pi + 1 < len) return eq(pattern.charCodeAt(pi + 1), ch, nocase) ? pi + 2 : -1
  return eq(c, ch, nocase) ? pi + 1 : -1
}

const eq = (a: number, b: number, nocase: boolean): boolean => a === b || (nocase && lower(a) === lower(b))

/** Does `text` match the glob `pattern`? (`nocase`: ASCII letters compare case-insensitively.) */
export const globMatch = (pattern: string, text: string, nocase = false): boolean => {
  const plen = pattern.length
  const tlen = text.length
  let pi = 0
  let ti = 0
  let starP = -1 // pattern index after the last '*' seen
  let starT = 0 // text index that '*' was last extended to
  while (ti < tlen) {
    if (pi < plen) {
      if (pattern.charCodeAt(pi) === STAR) {
        while (pi < plen && pattern.charCodeAt(pi) === STAR) pi++
        if (pi === plen) return true
        starP = pi
        starT = ti
        continue
      }
      const next = matchOne(pattern, pi, text.charCodeAt(ti), nocase)
      if (next !== -1) {
        pi = next
        ti++
        continue
      }
    }
    if (starP === -1) return false
    // let the last '*' swallow one more char and retry from after it
    starT++
    ti = starT
    pi = starP
  }
  while (pi < plen && pattern.charCodeAt(pi) === STAR) pi++
  return pi === plen
}
