/**
 * Strict decimal integers as Redis reads them (`string2ll`): lengths, counts, and command
 * arguments.
 *
 * ```
 *   "42" → 42    "-7" → -7    "0" → 0
 *   "+1", "01", "-0", " 1", "1.0", "", "9223372036854775808" → undefined
 * ```
 *
 * @since 0.1.0
 */

const INT64_MAX_DIGITS = "9223372036854775807"
const INT64_MIN_DIGITS = "9223372036854775808"

/**
 * The value of a strict decimal integer in `buf[start, end)` as Redis's `string2ll` accepts it
 * (optional `-`, no leading zeros, no `+`, no spaces, within 64-bit signed range), or
 * `undefined`. Values beyond 2^53 are approximate (they exceed every limit anyway).
 */
export const parseLength = (buf: Uint8Array, start: number, end: number): number | undefined => {
  let i = start
  let negative = false
  if (i < end && buf[i] === 45) {
    negative = true
    i++
  }
  const digits = end - i
  if (digits <= 0 || digits > 19) return undefined
  if (buf[i] === 48) return digits === 1 && !negative ? 0 : undefined
  const bound = negative ? INT64_MIN_DIGITS : INT64_MAX_DIGITS
  let order = 0 // 19 digits: sign of (digits so far - bound so far), decided by the first difference
  let value = 0
  for (let k = 0; i < end; i++, k++) {
    const d = buf[i] - 48
    if (d < 0 || d > 9) return undefined
    value = value * 10 + d
    if (order === 0 && digits === 19) order = Math.sign(d - (bound.charCodeAt(k) - 48))
  }
  if (order > 0) return undefined
  return negative ? -value : value
}
