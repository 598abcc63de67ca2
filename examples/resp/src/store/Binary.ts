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

/**
 * `bytes` itself when it is a whole array of its own, else a copy: values kept in the keyspace
 * must not pin (or alias) the socket chunk they were decoded from.
 */
export const own = (bytes: Uint8Array): Uint8Array =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()

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
