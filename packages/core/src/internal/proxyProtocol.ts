import { Duration } from "effect"
import type { Address } from "../Address.ts"
import type {
  Family,
  Header,
  HeaderInput,
  ListenerStats,
  Options,
  ParseResult,
  ParserOptions,
  ProxyProtocolError,
  ProxyProtocolErrorReason,
  Ssl,
  Tlv,
  TransportProtocol
} from "../ProxyProtocol.ts"
import { addressBytes, formatIPv4, formatIPv6, inBlock, parseBlock, parseIPv4, parseIPv6 } from "./ip.ts"
import type { Block } from "./ip.ts"

// This module knows ProxyProtocol.ts by its types only (the public module
// imports it); errors are made by the function the public module passes in.

/** The counters of listeners with `proxyProtocol`, by their `accept` (see internal/proxyListener.ts). */
export const listenerStats = new WeakMap<object, () => ListenerStats>()

const V1_MAX = 107
const DEFAULT_MAX = 4096
const MIN_MAX = 232
const MAX_MAX = 16 + 65535
const DEFAULT_TIMEOUT = Duration.seconds(5)

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a] as const
/** "PROXY " */
const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20] as const
const CR = 0x0d
const LF = 0x0a

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------

/** Parser options, checked. */
export interface ResolvedParserOptions {
  readonly maxHeaderBytes: number
  readonly v1: boolean
  readonly v2: boolean
}

/** Listener options, checked. */
export interface ResolvedOptions extends ResolvedParserOptions {
  readonly trusts: (address: Address) => boolean
  readonly timeoutMillis: number
  readonly direct: boolean
}

/** Checked parser options, or what is wrong with them. */
export const resolveParserOptions = (options: ParserOptions | undefined): ResolvedParserOptions | string => {
  const max = options?.maxHeaderBytes ?? DEFAULT_MAX
  if (!Number.isInteger(max) || max < MIN_MAX || max > MAX_MAX) {
    return `maxHeaderBytes must be an integer from ${MIN_MAX} to ${MAX_MAX}, got ${max}`
  }
  const versions = options?.versions ?? [1, 2]
  if (versions.length === 0 || versions.some((v) => v !== 1 && v !== 2)) {
    return `versions must name 1, 2 or both, got [${versions.join(", ")}]`
  }
  return { maxHeaderBytes: max, v1: versions.includes(1), v2: versions.includes(2) }
}

/** Checked listener options, or what is wrong with them. */
export const resolveOptions = (options: Options): ResolvedOptions | string => {
  const parser = resolveParserOptions(options)
  if (typeof parser === "string") return parser
  if (!Array.isArray(options.trusted)) return "trusted must be an array of addresses or CIDR blocks"
  const trusts = trustMatcher(options.trusted)
  if (typeof trusts === "string") return trusts
  let timeout: Duration.Duration
  try {
    timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)
  } catch {
    return `timeout is not a duration: ${String(options.timeout)}`
  }
  const millis = Duration.toMillis(timeout)
  if (!Duration.isFinite(timeout) || !(millis > 0) || millis > 2 ** 31 - 1) {
    return `timeout must be finite and positive, got ${Duration.format(timeout)}`
  }
  const untrusted = options.untrusted ?? "refuse"
  if (untrusted !== "refuse" && untrusted !== "direct") {
    return `untrusted must be "refuse" or "direct", got ${String(untrusted)}`
  }
  return { ...parser, trusts, timeoutMillis: millis, direct: untrusted === "direct" }
}

/** Whether an address is in `trusted`, or what entry is wrong. */
export const trustMatcher = (trusted: ReadonlyArray<string>): ((address: Address) => boolean) | string => {
  if (trusted.length === 0) return "trusted must name at least one address or CIDR block"
  const blocks: Array<Block> = []
  let unix = false
  for (const entry of trusted) {
    if (entry === "unix") {
      unix = true
      continue
    }
    const block = typeof entry === "string" ? parseBlock(entry.trim()) : undefined
    if (block === undefined) return `trusted: "${String(entry)}" is not an IP address or CIDR block (nor "unix")`
    blocks.push(block)
  }
  return (address) => {
    if ("path" in address) return unix
    const bytes = addressBytes(address.host)
    if (bytes === undefined) return false
    for (const b of blocks) if (inBlock(b, bytes)) return true
    return false
  }
}

// ---------------------------------------------------------------------------
// the parser
// ---------------------------------------------------------------------------

type MakeError = (reason: ProxyProtocolErrorReason, detail: string, bytes: number) => ProxyProtocolError

const NEED_MORE: ParseResult = { _tag: "NeedMore" }

const UNDECIDED = 0
const V1 = 1
const V2 = 2

/**
 * The incremental parser. The header's bytes are copied into `buf` as they
 * come (never more than the header: 107 bytes for a version 1 line, the
 * announced length for version 2), so chunks may be lent and split anywhere.
 */
export class HeaderParser {
  private buf = new Uint8Array(V1_MAX)
  private have = 0
  private mode = UNDECIDED
  /** Version 2: the whole header's length, once the fixed part is in. */
  private total = -1
  private result: ParseResult | undefined = undefined

  constructor(private readonly options: ResolvedParserOptions, private readonly makeError: MakeError) {}

  readonly seen = (): number => this.have

  readonly feed = (chunk: Uint8Array): ParseResult => {
    if (this.result !== undefined) return this.result
    let i = 0
    while (i < chunk.length) {
      if (this.mode === UNDECIDED) {
        // the first byte tells which signature to expect: "P" or CR
        const b = chunk[i++]!
        const at = this.have
        this.buf[this.have++] = b
        const prefix = this.buf[0] === V1_PREFIX[0] ? V1_PREFIX : SIGNATURE
        if (prefix[at] !== b) {
          return this.fail(
            "Missing",
            at === 0
              ? `the first byte (0x${hex(b)}) starts no PROXY protocol header`
              : "the first bytes are no PROXY protocol signature"
          )
        }
        if (this.have === prefix.length) {
          const version = prefix === V1_PREFIX ? V1 : V2
          if (version === V1 ? !this.options.v1 : !this.options.v2) {
            return this.fail("Unsupported", `a version ${version} header, and version ${version} is not accepted here`)
          }
          this.mode = version
        }
      } else if (this.mode === V1) {
        const room = V1_MAX - this.have
        const end = Math.min(chunk.length, i + room)
        let lf = -1
        for (let j = i; j < end; j++) {
          if (chunk[j] === LF) {
            lf = j
            break
          }
        }
        const stop = lf === -1 ? end : lf + 1
        this.buf.set(chunk.subarray(i, stop), this.have)
        this.have += stop - i
        i = stop
        if (lf !== -1) return this.finish(this.parseV1(), i)
        if (this.have >= V1_MAX) {
          return this.fail("Malformed", `no CRLF within the first ${V1_MAX} bytes of a version 1 header`)
        }
      } else {
        if (this.total === -1) {
          const n = Math.min(16 - this.have, chunk.length - i)
          this.buf.set(chunk.subarray(i, i + n), this.have)
          this.have += n
          i += n
          if (this.have < 16) continue
          const refused = this.checkFixed()
          if (refused !== undefined) return refused
          if (this.total === this.have) return this.finish(this.parseV2(), i)
          continue
        }
        const n = Math.min(this.total - this.have, chunk.length - i)
        this.buf.set(chunk.subarray(i, i + n), this.have)
        this.have += n
        i += n
        if (this.have === this.total) return this.finish(this.parseV2(), i)
      }
    }
    return NEED_MORE
  }

  private fail(reason: ProxyProtocolErrorReason, detail: string): ParseResult {
    return (this.result = { _tag: "Failed", error: this.makeError(reason, detail, this.have) })
  }

  private finish(outcome: Header | Refusal, consumed: number): ParseResult {
    if (outcome instanceof Refusal) return this.fail(outcome.reason, outcome.detail)
    return (this.result = { _tag: "Done", header: outcome, consumed })
  }

  // ---- version 1 ----------------------------------------------------------

  private parseV1(): Header | Refusal {
    const length = this.have
    if (length < 2 || this.buf[length - 2] !== CR) return malformed("a version 1 header must end with CRLF")
    let line = ""
    for (let k = V1_PREFIX.length; k < length - 2; k++) {
      const c = this.buf[k]!
      if (c < 0x20 || c > 0x7e) {
        return malformed(`a version 1 header holds a byte that is not printable ASCII (0x${hex(c)})`)
      }
      line += String.fromCharCode(c)
    }
    const fields = line.split(" ")
    const proto = fields[0]!
    if (proto === "UNKNOWN") {
      return {
        version: 1,
        command: "PROXY",
        family: "UNSPEC",
        transport: "UNSPEC",
        source: undefined,
        destination: undefined,
        tlvs: [],
        length
      }
    }
    if (proto !== "TCP4" && proto !== "TCP6") {
      return new Refusal("Unsupported", `version 1 protocol "${proto}" (TCP4, TCP6 or UNKNOWN)`)
    }
    if (fields.length !== 5) {
      return malformed(
        `version 1 ${proto} needs: source destination source-port destination-port, single spaces between`
      )
    }
    const v4 = proto === "TCP4"
    const src = v4 ? v1IPv4(fields[1]!) : v1IPv6(fields[1]!)
    const dst = v4 ? v1IPv4(fields[2]!) : v1IPv6(fields[2]!)
    if (src === undefined) return malformed(`"${fields[1]}" is not an ${v4 ? "IPv4" : "IPv6"} address`)
    if (dst === undefined) return malformed(`"${fields[2]}" is not an ${v4 ? "IPv4" : "IPv6"} address`)
    const sport = v1Port(fields[3]!)
    const dport = v1Port(fields[4]!)
    if (sport === undefined) return malformed(`"${fields[3]}" is not a port`)
    if (dport === undefined) return malformed(`"${fields[4]}" is not a port`)
    return {
      version: 1,
      command: "PROXY",
      family: v4 ? "INET" : "INET6",
      transport: "STREAM",
      source: { host: src, port: sport },
      destination: { host: dst, port: dport },
      tlvs: [],
      length
    }
  }

  // ---- version 2 ----------------------------------------------------------

  /** Checks the fixed part; sets `total`, growing the buffer to it. */
  private checkFixed(): ParseResult | undefined {
    const b = this.buf
    const version = b[12]! >>> 4
    const command = b[12]! & 0x0f
    const family = b[13]! >>> 4
    const proto = b[13]! & 0x0f
    if (version !== 2) {
      return this.fail("Unsupported", `version nibble ${version} after the version 2 signature (only 2 is defined)`)
    }
    if (command > 1) return this.fail("Unsupported", `command 0x${command.toString(16)} (0 LOCAL, 1 PROXY)`)
    if (family > 3) {
      return this.fail("Unsupported", `address family 0x${family.toString(16)} (0 UNSPEC, 1 INET, 2 INET6, 3 UNIX)`)
    }
    if (proto > 2) {
      return this.fail("Unsupported", `transport protocol 0x${proto.toString(16)} (0 UNSPEC, 1 STREAM, 2 DGRAM)`)
    }
    const length = (b[14]! << 8) | b[15]!
    const total = 16 + length
    if (total > this.options.maxHeaderBytes) {
      return this.fail(
        "TooLarge",
        `the header announces ${total} bytes, more than maxHeaderBytes (${this.options.maxHeaderBytes})`
      )
    }
    this.total = total
    if (total > b.length) {
      const grown = new Uint8Array(total)
      grown.set(b.subarray(0, 16))
      this.buf = grown
    }
    return undefined
  }

  private parseV2(): Header | Refusal {
    const b = this.buf
    const total = this.total
    const command = (b[12]! & 0x0f) === 0 ? "LOCAL" : "PROXY"
    const familyCode = b[13]! >>> 4
    const protoCode = b[13]! & 0x0f
    const family = FAMILIES[familyCode]!
    const transport = TRANSPORTS[protoCode]!
    const base = { version: 2 as const, command: command as "LOCAL" | "PROXY", family, transport, length: total }
    // LOCAL: the proxy speaks for itself; the block (addresses and TLVs) is ignored, as the specification says
    if (command === "LOCAL") return { ...base, source: undefined, destination: undefined, tlvs: [] }
    if ((familyCode === 0) !== (protoCode === 0)) {
      return new Refusal("Unsupported", `family ${family} with transport ${transport} (both UNSPEC or neither)`)
    }
    // UNSPEC: an unknown protocol; its block is ignored and the connection keeps its real addresses
    if (familyCode === 0) return { ...base, source: undefined, destination: undefined, tlvs: [] }
    const length = total - 16
    const need = familyCode === 1 ? 12 : familyCode === 2 ? 36 : 216
    if (length < need) return malformed(`family ${family} needs ${need} bytes of addresses, the header has ${length}`)
    let source: Address
    let destination: Address
    if (familyCode === 1) {
      source = { host: formatIPv4(b, 16), port: u16(b, 24) }
      destination = { host: formatIPv4(b, 20), port: u16(b, 26) }
    } else if (familyCode === 2) {
      source = { host: formatIPv6(b, 16), port: u16(b, 48) }
      destination = { host: formatIPv6(b, 32), port: u16(b, 50) }
    } else {
      source = { path: unixPath(b, 16) }
      destination = { path: unixPath(b, 124) }
    }
    const tlvs = readTlvs(b, 16 + need, total)
    if (tlvs instanceof Refusal) return tlvs
    const header: { -readonly [K in keyof Header]: Header[K] } = { ...base, source, destination, tlvs }
    for (const tlv of tlvs) {
      switch (tlv.type) {
        case 0x01:
          header.alpn ??= latin1(tlv.value)
          break
        case 0x02:
          header.authority ??= utf8.decode(tlv.value)
          break
        case 0x03: {
          if (tlv.value.length !== 4) return malformed(`a CRC32C TLV of ${tlv.value.length} bytes (4 expected)`)
          const expected = u32(tlv.value, 0)
          const saved = tlv.value.slice()
          tlv.value.fill(0)
          const actual = crc32c(b.subarray(0, total))
          tlv.value.set(saved)
          if (actual !== expected) {
            return malformed(`CRC32C mismatch: the header says ${hex32(expected)}, its bytes give ${hex32(actual)}`)
          }
          break
        }
        case 0x05:
          if (tlv.value.length > 128) return malformed(`a UNIQUE_ID TLV of ${tlv.value.length} bytes (at most 128)`)
          header.uniqueId ??= tlv.value
          break
        case 0x20: {
          if (header.ssl !== undefined) break
          const ssl = readSsl(tlv.value)
          if (ssl instanceof Refusal) return ssl
          header.ssl = ssl
          break
        }
        case 0x30:
          header.netns ??= latin1(tlv.value)
          break
      }
    }
    return header
  }
}

/** A refusal found while parsing (made into the error by the parser). */
class Refusal {
  constructor(readonly reason: ProxyProtocolErrorReason, readonly detail: string) {}
}

const malformed = (detail: string) => new Refusal("Malformed", detail)

const FAMILIES: ReadonlyArray<Family> = ["UNSPEC", "INET", "INET6", "UNIX"]
const TRANSPORTS: ReadonlyArray<TransportProtocol> = ["UNSPEC", "STREAM", "DGRAM"]

const utf8 = new TextDecoder()

const hex = (b: number) => b.toString(16).padStart(2, "0")
const hex32 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`
const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!
const u32 = (b: Uint8Array, at: number) =>
  ((b[at]! << 24) >>> 0) + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!)

const latin1 = (b: Uint8Array): string => {
  let s = ""
  for (let k = 0; k < b.length; k++) s += String.fromCharCode(b[k]!)
  return s
}

/** A NUL-padded Unix path of 108 bytes. */
const unixPath = (b: Uint8Array, at: number): string => {
  let end = at
  while (end < at + 108 && b[end] !== 0) end++
  return utf8.decode(b.subarray(at, end))
}

/** TLVs from `start` to `end`; their values are views of `b`. */
const readTlvs = (b: Uint8Array, start: number, end: number): Array<Tlv> | Refusal => {
  const out: Array<Tlv> = []
  let at = start
  while (at < end) {
    if (end - at < 3) return malformed(`${end - at} byte(s) after the last TLV, too few for another`)
    const type = b[at]!
    const length = u16(b, at + 1)
    if (at + 3 + length > end) return malformed(`TLV 0x${hex(type)} announces ${length} bytes, past the header's end`)
    out.push({ type, value: b.subarray(at + 3, at + 3 + length) })
    at += 3 + length
  }
  return out
}

const readSsl = (value: Uint8Array): Ssl | Refusal => {
  if (value.length < 5) return malformed(`an SSL TLV of ${value.length} bytes (at least 5)`)
  const tlvs = readTlvs(value, 5, value.length)
  if (tlvs instanceof Refusal) return new Refusal("Malformed", `in the SSL TLV: ${tlvs.detail}`)
  const ssl: { -readonly [K in keyof Ssl]: Ssl[K] } = { client: value[0]!, verify: u32(value, 1), tlvs }
  for (const t of tlvs) {
    const text = utf8.decode(t.value)
    if (t.type === 0x21) ssl.version ??= text
    else if (t.type === 0x22) ssl.commonName ??= text
    else if (t.type === 0x23) ssl.cipher ??= text
    else if (t.type === 0x24) ssl.signatureAlgorithm ??= text
    else if (t.type === 0x25) ssl.keyAlgorithm ??= text
  }
  return ssl
}

/** A version 1 IPv4 address, as sent (dotted quad, no leading zeros). */
const v1IPv4 = (text: string): string | undefined => (parseIPv4(text) === undefined ? undefined : text)

/** A version 1 IPv6 address, in its canonical text. */
const v1IPv6 = (text: string): string | undefined => {
  const bytes = parseIPv6(text)
  return bytes === undefined ? undefined : formatIPv6(bytes)
}

/** A decimal port 0..65535 without leading zeros. */
const v1Port = (text: string): number | undefined => {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text)) return undefined
  const n = Number(text)
  return n <= 65535 ? n : undefined
}

// ---------------------------------------------------------------------------
// CRC32c (Castagnoli), as the CRC32C TLV uses it
// ---------------------------------------------------------------------------

let table: Uint32Array | undefined

/** CRC32c of `bytes` (reflected polynomial 0x82F63B78). */
export const crc32c = (bytes: Uint8Array): number => {
  if (table === undefined) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let k = 0; k < bytes.length; k++) crc = table[(crc ^ bytes[k]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

// ---------------------------------------------------------------------------
// the encoder
// ---------------------------------------------------------------------------

const ascii = new TextEncoder()

/** See `ProxyProtocol.encode`. */
export const encode = (input: HeaderInput, version: 1 | 2 = 1): Uint8Array => {
  const { destination, source } = input
  if ((source === undefined) !== (destination === undefined)) {
    throw new RangeError("ProxyProtocol.encode: give both source and destination, or neither")
  }
  return version === 1 ? encodeV1(input) : encodeV2(input)
}

interface IpPair {
  readonly v6: boolean
  readonly src: Uint8Array
  readonly dst: Uint8Array
  readonly sport: number
  readonly dport: number
}

const ipOf = (address: Address, role: string): Uint8Array => {
  if ("path" in address) throw new RangeError(`ProxyProtocol.encode: the ${role} is a Unix address`)
  const v4 = parseIPv4(address.host)
  if (v4 !== undefined) return Uint8Array.of(v4 >>> 24, (v4 >>> 16) & 0xff, (v4 >>> 8) & 0xff, v4 & 0xff)
  const v6 = parseIPv6(address.host)
  if (v6 === undefined) {
    throw new RangeError(`ProxyProtocol.encode: the ${role} host "${address.host}" is not an IP literal`)
  }
  return v6
}

const portOf = (address: Address, role: string): number => {
  const port = (address as { port: number }).port
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`ProxyProtocol.encode: the ${role} port ${port} is not in 0..65535`)
  }
  return port
}

const mapped = (ip: Uint8Array): Uint8Array => {
  if (ip.length === 16) return ip
  const out = new Uint8Array(16)
  out[10] = 0xff
  out[11] = 0xff
  out.set(ip, 12)
  return out
}

const pairOf = (source: Address, destination: Address): IpPair => {
  let src = ipOf(source, "source")
  let dst = ipOf(destination, "destination")
  const v6 = src.length === 16 || dst.length === 16
  if (v6) {
    src = mapped(src)
    dst = mapped(dst)
  }
  return { v6, src, dst, sport: portOf(source, "source"), dport: portOf(destination, "destination") }
}

const encodeV1 = (input: HeaderInput): Uint8Array => {
  const { destination, source } = input
  if (
    input.command === "LOCAL" || source === undefined || destination === undefined || "path" in source ||
    "path" in destination
  ) {
    return ascii.encode("PROXY UNKNOWN\r\n")
  }
  const p = pairOf(source, destination)
  const text = (ip: Uint8Array) => (p.v6 ? formatIPv6(ip) : formatIPv4(ip))
  return ascii.encode(`PROXY ${p.v6 ? "TCP6" : "TCP4"} ${text(p.src)} ${text(p.dst)} ${p.sport} ${p.dport}\r\n`)
}

const encodeV2 = (input: HeaderInput): Uint8Array => {
  const { destination, source } = input
  const local = input.command === "LOCAL"
  let familyCode = 0
  let addresses: Uint8Array = new Uint8Array(0)
  if (!local && source !== undefined && destination !== undefined) {
    if ("path" in source || "path" in destination) {
      if (!("path" in source) || !("path" in destination)) {
        throw new RangeError("ProxyProtocol.encode: a Unix address with an IP one")
      }
      familyCode = 3
      addresses = new Uint8Array(216)
      for (const [path, at] of [[source.path, 0], [destination.path, 108]] as const) {
        const bytes = ascii.encode(path)
        if (bytes.length > 108) {
          throw new RangeError(`ProxyProtocol.encode: the Unix path "${path}" is longer than 108 bytes`)
        }
        addresses.set(bytes, at)
      }
    } else {
      const p = pairOf(source, destination)
      familyCode = p.v6 ? 2 : 1
      const n = p.src.length
      addresses = new Uint8Array(2 * n + 4)
      addresses.set(p.src, 0)
      addresses.set(p.dst, n)
      addresses[2 * n] = p.sport >>> 8
      addresses[2 * n + 1] = p.sport & 0xff
      addresses[2 * n + 2] = p.dport >>> 8
      addresses[2 * n + 3] = p.dport & 0xff
    }
  }
  const protoCode = familyCode === 0 ? 0 : input.transport === "DGRAM" ? 2 : 1
  const tlvs = input.tlvs ?? []
  let length = addresses.length
  for (const t of tlvs) length += 3 + t.value.length
  if (input.crc32c) length += 7
  if (length > 65535) {
    throw new RangeError(`ProxyProtocol.encode: ${length} bytes of addresses and TLVs (at most 65535)`)
  }
  const out = new Uint8Array(16 + length)
  out.set(SIGNATURE, 0)
  out[12] = 0x20 | (local ? 0 : 1)
  out[13] = (familyCode << 4) | protoCode
  out[14] = length >>> 8
  out[15] = length & 0xff
  out.set(addresses, 16)
  let at = 16 + addresses.length
  for (const t of tlvs) {
    out[at] = t.type
    out[at + 1] = t.value.length >>> 8
    out[at + 2] = t.value.length & 0xff
    out.set(t.value, at + 3)
    at += 3 + t.value.length
  }
  if (input.crc32c) {
    out[at] = 0x03
    out[at + 2] = 4
    const crc = crc32c(out)
    out[at + 3] = crc >>> 24
    out[at + 4] = (crc >>> 16) & 0xff
    out[at + 5] = (crc >>> 8) & 0xff
    out[at + 6] = crc & 0xff
  }
  return out
}
