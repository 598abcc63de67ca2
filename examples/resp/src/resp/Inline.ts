/**
 * Inline commands (`PING\r\n`, what telnet sends): splitting a line into arguments the way Redis
 * does (`sdssplitargs`).
 *
 * ```
 *   SET k "a b\x41"   → ["SET", "k", "a bA"]
 *   ECHO 'it\'s'      → ["ECHO", "it's"]
 *   ECHO "a"b         → undefined (a closing quote must be followed by a space or the end)
 * ```
 *
 * @since 0.1.0
 */

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) // isspace: ' ' \t \n \v \f \r
const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
const hexValue = (c: number): number => (c <= 57 ? c - 48 : (c | 0x20) - 87)

/**
 * Split an inline line `line[start, end)` into arguments the way `redis-cli`/Redis do
 * (`sdssplitargs`), or `undefined` for unbalanced quotes. Unquoted arguments are views of `line`.
 */
export const splitInline = (line: Uint8Array, start: number, end: number): Array<Uint8Array> | undefined => {
  const args: Array<Uint8Array> = []
  let p = start
  while (true) {
    while (p < end && isSpace(line[p])) p++
    if (p >= end) return args
    const tokenStart = p
    // fast path: a plain token (no quote before its end) is a view
    while (p < end) {
      const c = line[p]
      if (c === 32 || c === 10 || c === 13 || c === 9 || c === 34 || c === 39) break
      p++
    }
    if (p >= end || (line[p] !== 34 && line[p] !== 39)) {
      args.push(line.subarray(tokenStart, p))
      continue
    }
    // slow path: quotes somewhere in this token
    const bytes: Array<number> = []
    for (let i = tokenStart; i < p; i++) bytes.push(line[i])
    let done = false
    while (!done) {
      if (p >= end) break
      const c = line[p]
      if (c === 34) {
        // "..."
        p++
        while (true) {
          if (p >= end) return undefined
          const q = line[p]
          if (q === 92 && p + 3 < end && line[p + 1] === 120 && isHex(line[p + 2]) && isHex(line[p + 3])) {
            bytes.push(hexValue(line[p + 2]) * 16 + hexValue(line[p + 3]))
            p += 4
          } else if (q === 92 && p + 1 < end) {
            const e = line[p + 1]
            bytes.push(e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e)
            p += 2
          } else if (q === 34) {
            p++
            if (p < end && !isSpace(line[p])) return undefined
            done = true
            break
          } else {
            bytes.push(q)
            p++
          }
        }
      } else if (c === 39) {
        // '...'
        p++
        while (true) {
          if (p >= end) return undefined
          const q = line[p]
          if (q === 92 && p + 1 < end && line[p + 1] === 39) {
            bytes.push(39)
            p += 2
          } else if (q === 39) {
            p++
            if (p < end && !isSpace(line[p])) return undefined
            done = true
            break
          } else {
            bytes.push(q)
            p++
          }
        }
      } else if (c === 32 || c === 10 || c === 13 || c === 9) {
        done = true
      } else {
        bytes.push(c)
        p++
      }
    }
    args.push(Uint8Array.from(bytes))
  }
}
