/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): how a TCP load balancer
 * (HAProxy `send-proxy` / `send-proxy-v2`, nginx `proxy_protocol on`, AWS NLB,
 * Envoy, Traefik) tells the server behind it who the real client is. The
 * proxy opens its own connection to the server, so the server's socket sees
 * the proxy's address; the proxy therefore sends one header before the
 * client's first byte, naming the client's address and port and the address
 * the client connected to.
 *
 * On a listener: `listen(address, { proxyProtocol: { trusted: ["10.0.0.0/8"] } })`
 * (or `Server.listen`, `ProtocolServer.listen` with the same option) reads
 * that header from every accepted connection before `accept` hands it out,
 * on every transport alike. Then `connection.remoteAddress` (so
 * `Session.remoteAddress`, `Middleware.ipFilter`, the `peer` log annotation)
 * is the client's address, `connection.localAddress` the address the client
 * connected to, and `connection.proxy` tells the header and the proxy's own
 * address. The bytes that followed the header are the connection's first
 * data, intact. See {@link Options} for the rules (trusted peers only, a
 * timeout, a size limit).
 *
 * Version 1, one line of text, at most 107 bytes with its CRLF:
 * ```
 *   PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n
 *   PROXY TCP6 2001:db8::10 2001:db8::1 56324 443\r\n
 *   PROXY UNKNOWN\r\n                       (anything up to the CRLF ignored)
 *   ^^^^^ ^^^^ ^^^^^^^^^^ ^^^^^^^^^^^^ ^^^^^ ^^^
 *   word  proto  source   destination  sport dport   single spaces between
 * ```
 *
 * Version 2, binary, 16 fixed bytes then `length` bytes of addresses and TLVs:
 * ```
 *    0                   1                   2                   3
 *   +-------------------------------------------------------------------+
 *   | 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A   (signature, 12 bytes)       |
 *   +----------------+----------------+---------------------------------+
 *   | ver 2 | cmd    | family | proto | length (16 bits, big endian)    |
 *   |  0x2  | 0 LOCAL| 0 UNSPEC 0 UNSPEC                                |
 *   |       | 1 PROXY| 1 INET  1 STREAM                                 |
 *   |       |        | 2 INET6 2 DGRAM                                  |
 *   |       |        | 3 UNIX                                           |
 *   +----------------+----------------+---------------------------------+
 *   | addresses:  INET   src 4 | dst 4 | sport 2 | dport 2     12 bytes |
 *   |             INET6  src 16 | dst 16 | sport 2 | dport 2   36 bytes |
 *   |             UNIX   src path 108 | dst path 108 (NUL padded) 216   |
 *   +-------------------------------------------------------------------+
 *   | TLVs, to the end of `length`:  type 1 | length 2 | value length    |
 *   +-------------------------------------------------------------------+
 * ```
 *
 * Command `LOCAL` (a proxy's health check) carries no client: the connection
 * keeps its real addresses. So do `PROXY UNKNOWN` and family `UNSPEC`.
 *
 * @example
 * ```ts
 * import { ProxyProtocol, Server } from "@wirekit/core"
 *
 * // behind HAProxy (`server app 10.0.0.5:7000 send-proxy-v2`) or nginx (`proxy_protocol on;`)
 * yield* Server.listen({ host: "0.0.0.0", port: 7000 }, handler, {
 *   proxyProtocol: { trusted: ["10.0.0.2", "10.0.0.3"], timeout: "3 seconds" }
 * })
 * // in the handler: conn.remoteAddress is the client, conn.proxy?.peer the proxy
 *
 * // the parser on its own: fed chunks, it never reads past the header
 * const parser = ProxyProtocol.makeParser()
 * const result = parser.feed(new TextEncoder().encode("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\nGET /"))
 * if (result._tag === "Done") {
 *   result.header.source // { host: "192.0.2.10", port: 56324 }
 *   result.consumed      // 46: "GET /" starts there
 * }
 * ```
 * @since 0.1.0
 */
import { Data } from "effect"
import type { Duration } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import * as internal from "./internal/proxyProtocol.ts"
import type { Listener } from "./Transport.ts"

// ---------------------------------------------------------------------------
// the header
// ---------------------------------------------------------------------------

/**
 * `"PROXY"`: the connection was relayed for a client, whose addresses the
 * header carries. `"LOCAL"` (version 2 only): the proxy speaks for itself,
 * e.g. a health check; the connection keeps its real addresses.
 *
 * @since 0.1.0
 * @category models
 */
export type Command = "PROXY" | "LOCAL"

/**
 * The address family of the client's connection: IPv4 (`TCP4` in version 1),
 * IPv6 (`TCP6`), a Unix socket (version 2 only), or unknown (`UNKNOWN`, the
 * family `UNSPEC`): no addresses then.
 *
 * @since 0.1.0
 * @category models
 */
export type Family = "INET" | "INET6" | "UNIX" | "UNSPEC"

/**
 * The client connection's transport: a stream (TCP, a stream Unix socket),
 * datagrams, or unknown. Version 1 only speaks of TCP.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportProtocol = "STREAM" | "DGRAM" | "UNSPEC"

/**
 * One type-length-value field of a version 2 header; `value` is its bytes.
 * Types are in {@link TlvType}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tlv {
  readonly type: number
  readonly value: Uint8Array
}

/**
 * The TLV types the specification names.
 *
 * @since 0.1.0
 * @category constants
 */
export const TlvType = {
  /** The application protocol the client negotiated (ALPN), e.g. `h2`. */
  ALPN: 0x01,
  /** The host name the client asked for (TLS SNI, or the HTTP authority). */
  AUTHORITY: 0x02,
  /** A CRC32c of the whole header; checked when present. */
  CRC32C: 0x03,
  /** Padding, ignored. */
  NOOP: 0x04,
  /** An opaque id of the connection, at most 128 bytes (e.g. to match the proxy's logs). */
  UNIQUE_ID: 0x05,
  /** How the client's TLS went, with sub-TLVs (see {@link Ssl}). */
  SSL: 0x20,
  /** Sub-TLV of SSL: the TLS version, e.g. `TLSv1.3`. */
  SSL_VERSION: 0x21,
  /** Sub-TLV of SSL: the client certificate's Common Name. */
  SSL_CN: 0x22,
  /** Sub-TLV of SSL: the cipher, e.g. `ECDHE-RSA-AES128-GCM-SHA256`. */
  SSL_CIPHER: 0x23,
  /** Sub-TLV of SSL: the certificate's signature algorithm. */
  SSL_SIG_ALG: 0x24,
  /** Sub-TLV of SSL: the certificate's key algorithm. */
  SSL_KEY_ALG: 0x25,
  /** The network namespace the client's connection came from. */
  NETNS: 0x30
} as const

/**
 * The `SSL` TLV, decoded: the proxy terminated TLS for the client.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ssl {
  /** Bit field: 0x01 the client connected over TLS, 0x02 it presented a certificate on this connection, 0x04 in this TLS session. */
  readonly client: number
  /** 0 when the client's certificate was verified (when one was presented); anything else is a failure code. */
  readonly verify: number
  readonly version?: string | undefined
  readonly commonName?: string | undefined
  readonly cipher?: string | undefined
  readonly signatureAlgorithm?: string | undefined
  readonly keyAlgorithm?: string | undefined
  /** Every sub-TLV, as sent. */
  readonly tlvs: ReadonlyArray<Tlv>
}

/**
 * A parsed PROXY protocol header.
 *
 * @since 0.1.0
 * @category models
 */
export interface Header {
  readonly version: 1 | 2
  readonly command: Command
  readonly family: Family
  readonly transport: TransportProtocol
  /**
   * The client: where the relayed connection came from. `undefined` for
   * `LOCAL`, `PROXY UNKNOWN` and family `UNSPEC`. IPv6 hosts are in their
   * canonical text (RFC 5952), as the runtimes report them.
   */
  readonly source: Address | undefined
  /** Where the client connected to (the proxy's front address); `undefined` when `source` is. */
  readonly destination: Address | undefined
  /** Every TLV of a version 2 `PROXY` header, in order (none for version 1, `LOCAL` and `UNSPEC`). */
  readonly tlvs: ReadonlyArray<Tlv>
  /** The `ALPN` TLV, as text. */
  readonly alpn?: string | undefined
  /** The `AUTHORITY` TLV (the client's SNI host name). */
  readonly authority?: string | undefined
  /** The `UNIQUE_ID` TLV. */
  readonly uniqueId?: Uint8Array | undefined
  /** The `SSL` TLV, decoded. */
  readonly ssl?: Ssl | undefined
  /** The `NETNS` TLV. */
  readonly netns?: string | undefined
  /** The header's size on the wire, in bytes. */
  readonly length: number
}

/**
 * What `connection.proxy` holds on a connection whose listener read a PROXY
 * protocol header: the header, and the socket's own addresses (the proxy's
 * address and ours), which `remoteAddress` and `localAddress` no longer show.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProxyInfo {
  readonly header: Header
  /** The peer of the socket: the proxy. */
  readonly peer: Address
  /** Our end of the socket. */
  readonly local: Address
}

// ---------------------------------------------------------------------------
// limits and options
// ---------------------------------------------------------------------------

/**
 * The largest version 1 header: 107 bytes, its CRLF included (the
 * specification's bound, which no option changes).
 *
 * @since 0.1.0
 * @category constants
 */
export const V1_MAX_LENGTH = 107

/**
 * The 12 bytes a version 2 header starts with. They cannot start a version
 * 1 header, an HTTP request, a TLS record or most protocols' first message.
 *
 * @since 0.1.0
 * @category constants
 */
export const V2_SIGNATURE: Uint8Array = Uint8Array.of(
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a
)

/**
 * Defaults of {@link Options}.
 *
 * ```
 *   maxHeaderBytes 4096:  [ 16 fixed ][ addresses + TLVs: up to 4080 ]
 *                         (the length field could announce 65535)
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  /** How long a trusted peer has to send its whole header. */
  readonly timeout: Duration.DurationInput
  /** The largest version 2 header, its 16 fixed bytes included. */
  readonly maxHeaderBytes: number
} = {
  timeout: "5 seconds",
  maxHeaderBytes: 4096
}

/**
 * The smallest `maxHeaderBytes`: the 16 fixed bytes and two Unix paths, so
 * that every address family fits.
 *
 * @since 0.1.0
 * @category constants
 */
export const MIN_MAX_HEADER_BYTES = 232

/**
 * Options of the parser ({@link makeParser}).
 *
 * @since 0.1.0
 * @category options
 */
export interface ParserOptions {
  /**
   * The largest version 2 header, its 16 fixed bytes included: a longer one
   * is refused (`TooLarge`) as soon as its length field is read, before any
   * of it is buffered. Default 4096; an integer from 232 to 65551. Version 1
   * headers are bounded by 107 bytes whatever this says.
   */
  readonly maxHeaderBytes?: number | undefined
  /** The versions accepted; a header of another one is `Unsupported`. Default both. */
  readonly versions?: ReadonlyArray<1 | 2> | undefined
}

/**
 * `ListenOptions.proxyProtocol`: read a PROXY protocol header from every
 * connection a listener accepts, before `accept` hands it out.
 *
 * - From a `trusted` peer the header is required. A connection whose header
 *   is missing, malformed, too large or slower than `timeout` is logged
 *   (Warning, with its {@link ProxyProtocolError}) and closed; it never
 *   reaches `accept`, and the listener keeps accepting.
 * - A peer that is not trusted is refused (logged and closed) by default:
 *   the specification forbids trusting a header from anyone else, and a
 *   listener configured for the protocol is meant to be reached through
 *   the proxy only. Serving such a peer as a direct client would let anyone
 *   who can reach the port around the proxy (past its access rules, its
 *   rate limits, its TLS) in unnoticed, and would silently record the
 *   proxy's address as the client's when the trusted list misses a proxy.
 *   Refusing makes both show at once. `untrusted: "direct"` serves them with
 *   their own addresses instead, without reading anything (for a listener
 *   that also takes direct clients, e.g. health checks from the host).
 * - `LOCAL` headers (health checks), `PROXY UNKNOWN` and family `UNSPEC`
 *   are accepted; the connection keeps its real addresses.
 *
 * Options are checked when the listener is built: a bad one fails the listen
 * with a `ListenError` of reason `"Other"` (code `EINVAL`) whose `cause` is a
 * {@link ProxyProtocolError} of reason `"InvalidOptions"`. TLS listeners
 * cannot read the header (the proxy sends it before the TLS handshake, which
 * the transport runs first), so `tls` together with `proxyProtocol` fails
 * the same way: terminate TLS at the proxy, or upgrade after the header with
 * `Connection.startTls`.
 *
 * @example
 * ```ts
 * const options: Transport.ListenOptions = {
 *   proxyProtocol: {
 *     trusted: ["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"],
 *     timeout: "5 seconds",
 *     maxHeaderBytes: 4096
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options extends ParserOptions {
  /**
   * The proxies: IPv4 or IPv6 addresses or CIDR blocks (`"10.0.0.0/8"`,
   * `"fd00::/8"`). An IPv4 entry also matches its IPv4-mapped IPv6 form
   * (`::ffff:10.0.0.1`, how a dual-stack listener reports IPv4 peers).
   * `"unix"` trusts every peer of a Unix-socket listener. At least one.
   */
  readonly trusted: ReadonlyArray<string>
  /**
   * How long a trusted peer has to send its whole header, from the moment
   * its connection is accepted, on Effect's `Clock`. Default 5 seconds.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** What to do with a peer that is not trusted: `"refuse"` (default) or serve it as a `"direct"` client. */
  readonly untrusted?: "refuse" | "direct" | undefined
}

/**
 * Counters of a listener that reads PROXY protocol headers (see {@link stats}).
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerStats {
  /** Connections handed out with a `PROXY` header's client addresses. */
  readonly proxied: number
  /** Connections handed out with their real addresses: a `LOCAL` header, `UNKNOWN` or `UNSPEC`. */
  readonly local: number
  /** Connections from peers not trusted, served as they are (`untrusted: "direct"`). */
  readonly direct: number
  /** Connections from peers not trusted, closed (`untrusted: "refuse"`). */
  readonly refused: number
  /** Connections from trusted peers closed for their header (missing, malformed, too large, too slow). */
  readonly failed: number
  /** Connections whose header is being read right now. */
  readonly pending: number
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * Why a header was refused.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProxyProtocolErrorReason =
  /** The first bytes are not a PROXY protocol header (a client that speaks the application protocol directly). */
  | "Missing"
  /** A header with a bad field: syntax, addresses, ports, lengths, a TLV, a wrong CRC32c. */
  | "Malformed"
  /** A well-formed header this receiver does not take: another version, command, family or protocol, or a version turned off. */
  | "Unsupported"
  /** A version 2 header longer than `maxHeaderBytes`. */
  | "TooLarge"
  /** The peer ended the connection (or it failed) before the header's end. */
  | "Truncated"
  /** The whole header did not arrive within the timeout. */
  | "Timeout"
  /** The peer is not in the trusted list, and such peers are refused. */
  | "Untrusted"
  /** Bad options: a trusted entry that is not an address or block, a limit or timeout out of range. */
  | "InvalidOptions"

/**
 * A PROXY protocol header refused, or options refused, with the facts.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProxyProtocolError extends Data.TaggedError("ProxyProtocolError")<{
  readonly reason: ProxyProtocolErrorReason
  /** The socket's peer (the proxy, or whoever connected), when known. */
  readonly peer?: Address | undefined
  /** Bytes of the header read before the verdict. */
  readonly bytes: number
  /** What was wrong, in words. */
  readonly detail: string
  /** The timeout in milliseconds, for `Timeout`. */
  readonly timeout?: number | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const peer = this.peer !== undefined ? ` from ${format(this.peer)}` : ""
    const t = this.reason === "Timeout" && this.timeout !== undefined ? ` after ${this.timeout}ms` : ""
    return `PROXY protocol header${peer} refused: ${this.reason}${t}: ${this.detail} (${this.bytes} byte(s) read)`
  }
}

// ---------------------------------------------------------------------------
// the parser
// ---------------------------------------------------------------------------

/**
 * What {@link Parser.feed} says.
 *
 * - `NeedMore`: every byte of the chunk belongs to the header, which is not
 *   complete yet: feed the next chunk.
 * - `Done`: the header ends `consumed` bytes into this chunk; the bytes from
 *   `consumed` on are the stream's first data (the parser never reads them).
 * - `Failed`: the header is refused; the connection should be closed.
 *
 * @since 0.1.0
 * @category models
 */
export type ParseResult =
  | { readonly _tag: "NeedMore" }
  | { readonly _tag: "Done"; readonly header: Header; readonly consumed: number }
  | { readonly _tag: "Failed"; readonly error: ProxyProtocolError }

/**
 * An incremental parser of one header: feed it the stream's chunks in order
 * until it says `Done` or `Failed`. It buffers at most the header's bytes
 * (107 for version 1, `maxHeaderBytes` for version 2) and decides as early as
 * the bytes allow (a first byte that starts neither version fails at once).
 * Once it said `Done` or `Failed`, later feeds repeat that result.
 *
 * @since 0.1.0
 * @category models
 */
export interface Parser {
  readonly feed: (chunk: Uint8Array) => ParseResult
  /** Bytes taken so far. */
  readonly seen: () => number
}

const makeError = (reason: ProxyProtocolErrorReason, detail: string, bytes: number): ProxyProtocolError =>
  new ProxyProtocolError({ reason, detail, bytes })

/**
 * A parser of one header.
 *
 * @throws ProxyProtocolError of reason `"InvalidOptions"` when `maxHeaderBytes`
 *   is not an integer from 232 to 65551 or `versions` is empty or names
 *   another version.
 * @since 0.1.0
 * @category constructors
 */
export const makeParser = (options?: ParserOptions): Parser => {
  const resolved = internal.resolveParserOptions(options)
  if (typeof resolved === "string") throw makeError("InvalidOptions", resolved, 0)
  return new internal.HeaderParser(resolved, makeError)
}

/**
 * Parses a header at the start of `bytes` in one go: `NeedMore` when `bytes`
 * ends inside it.
 *
 * @throws ProxyProtocolError of reason `"InvalidOptions"` (see {@link makeParser}).
 * @since 0.1.0
 * @category constructors
 */
export const parse = (bytes: Uint8Array, options?: ParserOptions): ParseResult => makeParser(options).feed(bytes)

/**
 * Checks listener options: `undefined` when they are good, else the
 * `InvalidOptions` error a listen with them fails with.
 *
 * @since 0.1.0
 * @category options
 */
export const validate = (options: Options): ProxyProtocolError | undefined => {
  const resolved = internal.resolveOptions(options)
  return typeof resolved === "string" ? makeError("InvalidOptions", resolved, 0) : undefined
}

/**
 * Whether `address` is in `trusted` (addresses, CIDR blocks, `"unix"`; see
 * {@link Options.trusted}).
 *
 * @throws ProxyProtocolError of reason `"InvalidOptions"` for an entry that is
 *   neither.
 * @since 0.1.0
 * @category options
 */
export const trusts = (trusted: ReadonlyArray<string>): (address: Address) => boolean => {
  const matcher = internal.trustMatcher(trusted)
  if (typeof matcher === "string") throw makeError("InvalidOptions", matcher, 0)
  return matcher
}

// ---------------------------------------------------------------------------
// the encoder (the sending side: proxies, tests)
// ---------------------------------------------------------------------------

/**
 * What {@link encode} writes. Without `source` and `destination` (or with
 * Unix addresses in version 1) the header says `PROXY UNKNOWN` (version 1)
 * or family `UNSPEC` (version 2).
 *
 * @since 0.1.0
 * @category models
 */
export interface HeaderInput {
  /** Default `"PROXY"`. `LOCAL` is written as `PROXY UNKNOWN` in version 1, which has no such command. */
  readonly command?: Command | undefined
  /** The client: an IP literal and port, or (version 2) a Unix path of at most 108 bytes. */
  readonly source?: Address | undefined
  readonly destination?: Address | undefined
  /** Version 2: default `"STREAM"`. */
  readonly transport?: "STREAM" | "DGRAM" | undefined
  /** Version 2: TLVs after the addresses, in order. */
  readonly tlvs?: ReadonlyArray<Tlv> | undefined
  /** Version 2: append a `CRC32C` TLV over the whole header. */
  readonly crc32c?: boolean | undefined
}

/**
 * The bytes of a header, version 1 (default) or 2. An IPv4 source with an
 * IPv6 destination (or the reverse) is written as two IPv6 addresses, the
 * IPv4 one mapped (`::ffff:a.b.c.d`).
 *
 * ```
 *   encode({ source: tcp("192.0.2.10", 56324), destination: tcp("198.51.100.1", 443) })
 *     → "PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"
 *   encode({ command: "LOCAL" }, 2)
 *     → 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A 20 00 00 00
 * ```
 *
 * @throws RangeError when a host is not an IP literal, a port is not in
 *   0..65535, a Unix path is longer than 108 bytes, only one of `source` and
 *   `destination` is given, or the header would pass 65551 bytes.
 * @since 0.1.0
 * @category encoding
 */
export const encode: (input: HeaderInput, version?: 1 | 2) => Uint8Array = internal.encode

/**
 * The counters of a listener made with `proxyProtocol`, or `undefined` for
 * any other listener.
 *
 * @since 0.1.0
 * @category models
 */
export const stats = (listener: Listener): ListenerStats | undefined => internal.listenerStats.get(listener.accept)?.()
