/**
 * IP address literals: parsing, the canonical text of an IPv6 address
 * (RFC 5952) and CIDR blocks, for the PROXY protocol's addresses and its
 * trusted-peer list. Strict: what a receiver accepts from the network is only
 * the plain forms senders emit (no octal or short IPv4 forms, which
 * `inet_aton` would read differently from a regular expression).
 */

/** An IPv4 dotted quad as an unsigned 32-bit number, or undefined. No leading zeros (they read as octal elsewhere). */
export const parseIPv4 = (text: string): number | undefined => {
  const parts = text.split(".")
  if (parts.length !== 4) return undefined
  let out = 0
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 48)) return undefined
    let n = 0
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i) - 48
      if (c < 0 || c > 9) return undefined
      n = n * 10 + c
    }
    if (n > 255) return undefined
    out = out * 256 + n
  }
  return out
}

/** An IPv6 literal (`::` shorthand and a trailing dotted quad allowed, no zone) as 16 bytes, or undefined. */
export const parseIPv6 = (text: string): Uint8Array | undefined => {
  if (text.length < 2 || text.length > 45) return undefined
  const out = new Uint8Array(16)
  const double = text.indexOf("::")
  if (double !== -1 && text.indexOf("::", double + 1) !== -1) return undefined
  const head = double === -1 ? text : text.slice(0, double)
  const tail = double === -1 ? "" : text.slice(double + 2)
  const headGroups = head === "" ? [] : head.split(":")
  const tailGroups = tail === "" ? [] : tail.split(":")
  // a dotted quad may end the address: it fills the last two groups
  const words: Array<number> = []
  const tailWords: Array<number> = []
  const parseGroups = (groups: ReadonlyArray<string>, into: Array<number>, last: boolean): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!
      if (last && i === groups.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g)
        if (v4 === undefined) return false
        into.push(v4 >>> 16, v4 & 0xffff)
        continue
      }
      if (g.length === 0 || g.length > 4 || !/^[0-9a-fA-F]+$/.test(g)) return false
      into.push(parseInt(g, 16))
    }
    return true
  }
  if (!parseGroups(headGroups, words, double === -1)) return undefined
  if (!parseGroups(tailGroups, tailWords, true)) return undefined
  const count = words.length + tailWords.length
  if (double === -1 ? count !== 8 : count > 7) return undefined
  const all = [...words, ...new Array<number>(8 - count).fill(0), ...tailWords]
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >>> 8
    out[2 * i + 1] = all[i]! & 0xff
  }
  return out
}

/** The dotted quad of 4 bytes at `offset`. */
export const formatIPv4 = (bytes: Uint8Array, offset = 0): string =>
  `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`

/**
 * The canonical text of 16 bytes at `offset` (RFC 5952: lower case, no
 * leading zeros, the longest run of two or more zero groups as `::`, the
 * first when runs tie), an IPv4-mapped address as `::ffff:a.b.c.d`: the form
 * Node, Bun and Deno report for their peers, so addresses from a header
 * compare equal to addresses from a socket.
 */
export const formatIPv6 = (bytes: Uint8Array, offset = 0): string => {
  let mapped = bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) if (bytes[offset + i] !== 0) mapped = false
  if (mapped) return `::ffff:${formatIPv4(bytes, offset + 12)}`
  const groups: Array<number> = []
  for (let i = 0; i < 8; i++) groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!)
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  if (bestStart === -1) return groups.map((g) => g.toString(16)).join(":")
  const left = groups.slice(0, bestStart).map((g) => g.toString(16)).join(":")
  const right = groups.slice(bestStart + bestLength).map((g) => g.toString(16)).join(":")
  return `${left}::${right}`
}

/** An address as bytes for matching: 4 for IPv4 (and IPv4-mapped IPv6), 16 for IPv6; a zone (`%eth0`) is ignored. */
export const addressBytes = (host: string): Uint8Array | undefined => {
  const v4 = parseIPv4(host)
  if (v4 !== undefined) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff)
  const zone = host.indexOf("%")
  const v6 = parseIPv6(zone === -1 ? host : host.slice(0, zone))
  if (v6 === undefined) return undefined
  return isMapped(v6) ? v6.subarray(12) : v6
}

const isMapped = (v6: Uint8Array): boolean => {
  for (let i = 0; i < 10; i++) if (v6[i] !== 0) return false
  return v6[10] === 0xff && v6[11] === 0xff
}

/** A CIDR block (or one address: all bits), IPv4 blocks also matching IPv4-mapped IPv6 peers. */
export interface Block {
  readonly bytes: Uint8Array
  readonly bits: number
}

/** Parses `a.b.c.d[/n]` or `v6[/n]`; an IPv4-mapped IPv6 block of 96 bits or more becomes the IPv4 block. */
export const parseBlock = (text: string): Block | undefined => {
  const slash = text.indexOf("/")
  const host = slash === -1 ? text : text.slice(0, slash)
  let bytes: Uint8Array | undefined
  const v4 = parseIPv4(host)
  if (v4 !== undefined) bytes = Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff)
  else bytes = parseIPv6(host)
  if (bytes === undefined) return undefined
  let bits = bytes.length * 8
  if (slash !== -1) {
    const b = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(b)) return undefined
    bits = Number(b)
    if (bits > bytes.length * 8) return undefined
  }
  if (bytes.length === 16 && isMapped(bytes)) {
    if (bits < 96) return { bytes, bits }
    return { bytes: bytes.subarray(12), bits: bits - 96 }
  }
  return { bytes, bits }
}

/** Whether `address` (bytes from {@link addressBytes}) lies in `block`. */
export const inBlock = (block: Block, address: Uint8Array): boolean => {
  if (block.bytes.length !== address.length) return false
  let bits = block.bits
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff
    if ((block.bytes[i]! & mask) !== (address[i]! & mask)) return false
  }
  return true
}
