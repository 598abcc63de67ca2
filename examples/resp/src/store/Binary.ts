/**
 * Lossless conversions between bytes and "binary strings" (one char per byte, codes 0..255),
 * the key form of the keyspace's `Map`s and `Set`s.
 *
 * ```
 *   toKey([0x66 0x6f 0xff]) = "fo\u00ff"      fromKey("fo\u00ff") = [0x66 0x6f 0xff]
 * ```
 *
 * @since 0.1.0
 */

const CHUNK = 4096

/**
 * The runtime's native bytes → latin1 string conversion, when it has one (Node, Bun and Deno all
 * provide `Buffer.prototype.latin1Slice`, and it accepts any `Uint8Array` as `this`). It is
 * exactly "one char per byte", and 2–3× faster than building the string in JavaScript (which
 * also leaves a rope that every `Map` lookup must flatten first).
 */
const nativeLatin1 = ((): ((this: Uint8Array, start: number, end: number) => string) | undefined => {
  const B = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer
  const f = B?.prototype?.latin1Slice
  if (typeof f !== "function") return undefined
  try {
    const probe = new Uint8Array([0x66, 0xff, 0x00, 0x80])
    const s = (f as (this: Uint8Array, start: number, end: number) => string).call(probe.subarray(1), 0, 3)
    return s === "\u00ff\u0000\u0080" ? (f as (this: Uint8Array, start: number, end: number) => string) : undefined
  } catch {
    return undefined
  }
})()

/** The binary string of `bytes`. */
export const toKey = (bytes: Uint8Array): string => {
  const n = bytes.length
  if (nativeLatin1 !== undefined) return n === 0 ? "" : nativeLatin1.call(bytes, 0, n)
  if (n <= 16) {
    let s = ""
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[i])
    return s
  }
  if (n <= CHUNK) return String.fromCharCode.apply(null, bytes as unknown as Array<number>)
  let s = ""
  for (let i = 0; i < n; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(n, i + CHUNK)) as unknown as Array<number>)
  }
  return s
}

/** The bytes of a binary string (char codes above 255 are truncated to their low byte). */
export const fromKey = (key: string): Uint8Array => {
  const out = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i)
  return out
}

/** Bytes of an ASCII text (e.g. a number). */
export const ascii = fromKey

/** Number of decimal digits of `v`, an integer in 0..2^31-1. */
const digitCount = (v: number): number => {
  let digits = 1
  for (let t = (v / 10) | 0; t > 0; t = (t / 10) | 0) digits++
  return digits
}

/**
 * The decimal text of an integer as bytes (`-42` → `[0x2d 0x34 0x32]`), as `ascii(String(n))`
 * but without building the string when `|n| < 2^31`.
 */
export const integerBytes = (n: number | bigint): Uint8Array => {
  if (typeof n !== "number" || !(n > -0x80000000 && n < 0x80000000) || n !== Math.trunc(n)) return ascii(String(n))
  const negative = n < 0
  let v = negative ? -n : n
  const sign = negative ? 1 : 0
  const out = new Uint8Array(sign + digitCount(v))
  if (negative) out[0] = 45 // -
  for (let at = out.length - 1; at >= sign; at--) {
    const q = (v / 10) | 0
    out[at] = 48 + v - q * 10
    v = q
  }
  return out
}

/** Values of at most this many bytes are always copied by {@link own}, with a loop. */
const OWN_COPY_UP_TO = 64

/**
 * `bytes` itself when it is a whole array of its own, else a copy: values kept in the keyspace
 * must not pin (or alias) the socket chunk they were decoded from. Small values are always
 * copied: that is cheaper than reading `bytes.buffer`, which makes V8 and JavaScriptCore move a
 * small array's storage out of the heap.
 */
export const own = (bytes: Uint8Array): Uint8Array => {
  const n = bytes.length
  if (n <= OWN_COPY_UP_TO) {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = bytes[i]
    return out
  }
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

/** `text` lower-cased as ASCII from bytes (command names, options). */
export const lowerAscii = (bytes: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]
    s += String.fromCharCode(c >= 65 && c <= 90 ? c | 0x20 : c)
  }
  return s
}

/** Byte equality. */
export const equals = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
