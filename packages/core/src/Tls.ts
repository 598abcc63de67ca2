/**
 * TLS: the options a TLS listener and a TLS connect take (and a STARTTLS
 * upgrade of an open plain connection, {@link StartTlsOptions}), what a TLS
 * connection tells about its session and its peer ({@link TlsInfo}), the
 * typed handshake failure ({@link TlsError}), and certificates that can be
 * replaced while a listener runs ({@link CertificateSource}).
 *
 * TLS is an option of the transport: `listen(address, { tls })` speaks TLS on
 * every accepted connection, `connect(address, { tls })` before the connection
 * is handed out. A runtime's layer may also supply defaults
 * (`NodeTransport.layerTls({ server, client })`), so a whole program, or a
 * conformance suite, runs over TLS without changing a line.
 *
 * STARTTLS: `connection.startTls({ server })` or `({ client })` upgrades an
 * open plain connection in place (also `Framed.startTls`, `Session.startTls`
 * from a protocol handler, `ClientOptions.onConnect`); bytes received in
 * plain text and not yet read are discarded, never delivered as TLS data.
 *
 * How a failed handshake surfaces:
 * - On the client, `connect` fails with a `ConnectError` of reason `"Tls"`
 *   whose `cause` is the {@link TlsError} (and `code` its library code); use
 *   {@link errorOf} to get it. A connect timeout that elapses during the
 *   handshake is still reason `"TimedOut"`; the handshake timeout of
 *   {@link TlsClientOptions} is a `TlsError` of reason `"HandshakeTimeout"`.
 * - On the server, a connection whose handshake fails (or does not finish
 *   within the handshake timeout) is closed and never reaches `accept`, so no
 *   handler sees it. It is counted in the listener's {@link ListenerTls.stats}
 *   and logged at debug level; the listener keeps accepting.
 * - TLS 1.3 lets the client finish its handshake before the server has checked
 *   the client's certificate: a server that refuses that certificate (or its
 *   absence) does so after the client's `connect` succeeded. The client then
 *   sees the refusal on its first read, a `ConnectionError` whose `cause` is
 *   the {@link TlsError} ({@link errorOf} finds it there too).
 *
 * @example
 * ```ts
 * import { Server, Tls } from "@wirekit/core"
 * import { Effect } from "effect"
 *
 * const certificates = yield* Tls.makeCertificateSource({ cert: certPem, key: keyPem })
 * yield* Server.listen({ host: "0.0.0.0", port: 7443 }, handler, {
 *   tls: { certificates, alpnProtocols: ["myproto/1"], minVersion: "TLSv1.3" }
 * })
 * // later, after the certificate was renewed: new handshakes use it
 * yield* certificates.set({ cert: renewedPem, key: renewedKeyPem })
 * ```
 * @since 0.1.0
 */
import { Data, Duration, Effect } from "effect"
import type { Clock } from "effect"
import type { Address } from "./Address.ts"
import { format } from "./Address.ts"
import * as internal from "./internal/tls.ts"
import type { TransportService } from "./Transport.ts"

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------

/**
 * PEM text (one or several `-----BEGIN ...-----` blocks), as a string or as
 * its bytes (e.g. a file read into memory).
 *
 * @since 0.1.0
 * @category options
 */
export type Pem = string | Uint8Array

/**
 * A TLS protocol version wirekit accepts as a minimum. Older versions are
 * never negotiated.
 *
 * @since 0.1.0
 * @category options
 */
export type TlsVersion = "TLSv1.2" | "TLSv1.3"

/**
 * A certificate chain and its private key.
 *
 * @since 0.1.0
 * @category options
 */
export interface KeyPair {
  /** The certificate, followed by the intermediates that lead to the root (one PEM with several blocks, or one PEM each). */
  readonly cert: Pem | ReadonlyArray<Pem>
  /** The private key of the first certificate (PEM). */
  readonly key: Pem
  /** The passphrase of an encrypted key. */
  readonly passphrase?: string | undefined
}

/**
 * What a TLS server presents and trusts: its default certificate, the
 * certificates chosen by server name (SNI), and the CAs that client
 * certificates must chain to. This is the part that can be replaced while a
 * listener runs (see {@link CertificateSource}).
 *
 * @since 0.1.0
 * @category options
 */
export interface ServerCertificates extends KeyPair {
  /**
   * CAs that verify client certificates (with `requestCert`). Default: the
   * runtime's trusted roots.
   */
  readonly ca?: Pem | ReadonlyArray<Pem> | undefined
  /**
   * Certificates by server name: a client that asks for a name (SNI) gets the
   * pair listed under it; `"*.example.com"` matches one label
   * (`a.example.com`, not `a.b.example.com`); an exact name wins over a
   * wildcard; names compare case-insensitively. A client that asks for an
   * unlisted name, or for none (it connected by IP address), gets the
   * default `cert`/`key`.
   */
  readonly sni?: Readonly<Record<string, KeyPair>> | undefined
}

/**
 * Options of a TLS listener (`ListenOptions.tls`).
 *
 * @since 0.1.0
 * @category options
 */
export interface TlsServerOptions {
  /**
   * The certificates: fixed, or a {@link CertificateSource} whose `set`
   * replaces them while the listener runs.
   */
  readonly certificates: ServerCertificates | CertificateSource
  /** Ask clients for a certificate (mutual TLS). Default `false`. */
  readonly requestCert?: boolean | undefined
  /**
   * With `requestCert`: refuse a client without a certificate that chains to
   * `ca`. Default `true`. With `false` the handshake succeeds anyway and the
   * connection's {@link TlsInfo.authorized} tells whether it was verified.
   */
  readonly rejectUnauthorized?: boolean | undefined
  /**
   * Application protocols (ALPN) in order of preference. A client that offers
   * ALPN but none of these is refused; one that offers none is accepted with
   * no protocol.
   */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /** The lowest protocol version accepted. Default `"TLSv1.2"`. */
  readonly minVersion?: TlsVersion | undefined
  /**
   * How long a peer has from its connect to the end of its handshake; a peer
   * still handshaking then is closed (reason `"HandshakeTimeout"`). Counted
   * from the TCP accept, whatever the peer sends meanwhile. Default 10 seconds.
   */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
}

/**
 * Options of a TLS connect (`ConnectOptions.tls`).
 *
 * @since 0.1.0
 * @category options
 */
export interface TlsClientOptions {
  /** CAs that verify the server's certificate. Default: the runtime's trusted roots. */
  readonly ca?: Pem | ReadonlyArray<Pem> | undefined
  /**
   * The name sent in SNI and checked against the server's certificate.
   * Default: the host of the address when it is a name; for an IP address no
   * SNI is sent and the certificate must list the address; for a Unix socket
   * `"localhost"`.
   */
  readonly serverName?: string | undefined
  /** Application protocols (ALPN) to offer, in order of preference. */
  readonly alpnProtocols?: ReadonlyArray<string> | undefined
  /** A client certificate, for servers that ask for one (mutual TLS). */
  readonly certificate?: KeyPair | undefined
  /** The lowest protocol version accepted. Default `"TLSv1.2"`. */
  readonly minVersion?: TlsVersion | undefined
  /**
   * Refuse a server whose certificate does not chain to `ca` or does not match
   * the server name. Default `true`; `false` is for tests and pinning schemes
   * that check {@link TlsInfo.peerCertificate} themselves.
   */
  readonly rejectUnauthorized?: boolean | undefined
  /** How long the handshake may take once the TCP connection is up. Default 10 seconds. */
  readonly handshakeTimeout?: Duration.DurationInput | undefined
}

/**
 * What `connection.startTls` takes (STARTTLS: a plain connection upgraded in
 * place): the side this end plays in the handshake, with that side's
 * options. The side is the TLS role, not who connected: usually the end that
 * accepted the connection is the server.
 *
 * - `{ server }`: present `certificates` (a {@link CertificateSource} is read
 *   at the upgrade), with SNI, ALPN, `requestCert` and `minVersion` as on a
 *   TLS listener.
 * - `{ client }`: verify the peer as a TLS connect would. The name checked
 *   against the certificate (and sent in SNI) is `serverName`; without it,
 *   the host name the connection was opened to where the runtime remembers it
 *   (Node does), else the peer's address, which the certificate must then list.
 *
 * `handshakeTimeout` (default 10 seconds) bounds the whole upgrade: sending
 * what was written before it, then the handshake.
 *
 * @example
 * ```ts
 * yield* conn.startTls({ server: { certificates: { cert, key } } })
 * yield* conn.startTls({ client: { ca, serverName: "mail.example.com" } })
 * ```
 * @since 0.1.0
 * @category options
 */
export type StartTlsOptions =
  | { readonly server: TlsServerOptions; readonly client?: undefined }
  | { readonly client: TlsClientOptions; readonly server?: undefined }

/**
 * The side a {@link StartTlsOptions} plays.
 *
 * @since 0.1.0
 * @category options
 */
export const startTlsSide = (options: StartTlsOptions): "client" | "server" =>
  options.server !== undefined ? "server" : "client"

/**
 * Defaults of the TLS options.
 *
 * @since 0.1.0
 * @category options
 */
export const defaults: {
  readonly minVersion: TlsVersion
  readonly handshakeTimeout: Duration.Duration
  readonly rejectUnauthorized: boolean
} = {
  minVersion: "TLSv1.2",
  handshakeTimeout: Duration.seconds(10),
  rejectUnauthorized: true
}

/**
 * A handshake timeout in milliseconds (the default when absent).
 *
 * @since 0.1.0
 * @category options
 */
export const handshakeTimeoutMillis = (timeout: Duration.DurationInput | undefined): number =>
  Duration.toMillis(timeout === undefined ? defaults.handshakeTimeout : Duration.decode(timeout))

// ---------------------------------------------------------------------------
// certificate reload
// ---------------------------------------------------------------------------

/**
 * Server certificates that can be replaced while listeners use them. Pass
 * it as {@link TlsServerOptions.certificates}; one source may feed several
 * listeners (every port of a service renews at once). Handshakes that start
 * after `set` use the new certificates; open connections are untouched.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export interface CertificateSource {
  readonly [CertificateSourceTypeId]: CertificateSourceTypeId
  /** The certificates new handshakes use. */
  readonly get: Effect.Effect<ServerCertificates>
  /**
   * Replaces the certificates. Every listener using the source checks them
   * first (a key that does not match its certificate, bad PEM): if one
   * refuses them, `set` fails with that {@link TlsError} and nothing changes.
   */
  readonly set: (certificates: ServerCertificates) => Effect.Effect<void, TlsError>
  /** The current certificates, synchronously (for adapters). */
  readonly unsafeGet: () => ServerCertificates
  /**
   * For adapters: registers a listener. `prepare` checks new certificates and
   * returns either the error that refuses them or a function that starts
   * using them (called only once every listener accepted them). Returns the
   * function that unregisters.
   */
  readonly unsafeSubscribe: (prepare: (certificates: ServerCertificates) => TlsError | (() => void)) => () => void
}

/**
 * The brand of a {@link CertificateSource}.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export const CertificateSourceTypeId: unique symbol = Symbol.for("@wirekit/core/Tls/CertificateSource")

/**
 * The type of {@link CertificateSourceTypeId}.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export type CertificateSourceTypeId = typeof CertificateSourceTypeId

/**
 * A new {@link CertificateSource} holding `initial`.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export const makeCertificateSource = (initial: ServerCertificates): Effect.Effect<CertificateSource> =>
  Effect.sync(() => internal.makeCertificateSource(initial))

/**
 * {@link makeCertificateSource}, synchronously.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export const unsafeMakeCertificateSource = (initial: ServerCertificates): CertificateSource =>
  internal.makeCertificateSource(initial)

/**
 * True for a {@link CertificateSource}.
 *
 * @since 0.1.0
 * @category certificate reload
 */
export const isCertificateSource = (u: unknown): u is CertificateSource =>
  typeof u === "object" && u !== null && CertificateSourceTypeId in u

// ---------------------------------------------------------------------------
// what a connection knows
// ---------------------------------------------------------------------------

/**
 * The fields of a distinguished name (`CN`, `O`, `OU`, `C`, ...); a field
 * that occurs several times is an array.
 *
 * @since 0.1.0
 * @category connection info
 */
export type DistinguishedName = Readonly<Record<string, string | ReadonlyArray<string>>>

/**
 * One entry of a certificate's subject alternative names, e.g.
 * `{ type: "DNS", value: "example.com" }` or `{ type: "IP", value: "127.0.0.1" }`.
 *
 * @since 0.1.0
 * @category connection info
 */
export interface SubjectAltName {
  /** `"DNS"`, `"IP"`, `"URI"`, `"email"`, or the runtime's name for another kind. */
  readonly type: string
  readonly value: string
}

/**
 * The peer's certificate (the first of the chain it presented).
 *
 * @since 0.1.0
 * @category connection info
 */
export interface PeerCertificate {
  readonly subject: DistinguishedName
  readonly issuer: DistinguishedName
  readonly subjectAltName: ReadonlyArray<SubjectAltName>
  readonly validFrom: Date
  readonly validTo: Date
  /** SHA-256 of the DER bytes, as upper-case hex pairs joined by `:` (`"AB:01:..."`). */
  readonly fingerprint256: string
  /** The serial number, upper-case hex. */
  readonly serialNumber: string
  /** The certificate, DER-encoded. */
  readonly raw: Uint8Array
}

/**
 * What a TLS connection tells about its session and its peer
 * (`connection.tls`; `undefined` on a plain connection).
 *
 * @since 0.1.0
 * @category connection info
 */
export interface TlsInfo {
  /** The negotiated protocol version, e.g. `"TLSv1.3"`. */
  readonly protocol: string
  /** The negotiated cipher suite (its standard name). */
  readonly cipher: string
  /** The application protocol agreed by ALPN, if any. */
  readonly alpnProtocol: string | undefined
  /**
   * The server name: on the server, the name the client asked for (SNI), if
   * any; on the client, the name it sent.
   */
  readonly serverName: string | undefined
  /**
   * Whether the peer's certificate was verified: on the client, against its
   * `ca` and the server name; on the server, a client certificate against
   * `ca` (`false` when none was asked for or presented).
   */
  readonly authorized: boolean
  /** Why the peer's certificate is not verified (a library code), when `authorized` is false and there was a certificate. */
  readonly authorizationError: string | undefined
  /**
   * The peer's certificate: on the client, the server's; on the server, the
   * client's when `requestCert` asked for it and the client sent one
   * (verified when `authorized`).
   */
  readonly peerCertificate: PeerCertificate | undefined
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * Why a TLS handshake (or a TLS connection) failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type TlsErrorReason =
  /** A certificate (or key) is malformed, revoked, used for the wrong purpose, or the peer refused ours. */
  | "BadCertificate"
  /** The peer's certificate does not chain to a trusted CA (or the peer said so of ours). */
  | "UnknownCa"
  /** A certificate is outside its validity period (expired, or not yet valid). */
  | "CertificateExpired"
  /** The server's certificate does not list the name (or address) the client connected to. */
  | "HostnameMismatch"
  /** No protocol version both sides accept (e.g. a TLS 1.2-only peer against `minVersion: "TLSv1.3"`). */
  | "ProtocolVersion"
  /** The handshake did not finish within the handshake timeout. */
  | "HandshakeTimeout"
  /** The server asked for a client certificate and the client sent none. */
  | "NoCertificate"
  /** Anything else (a peer that does not speak TLS, no common ALPN protocol or cipher, a reset mid-handshake); see `code`. */
  | "Other"

/**
 * A TLS handshake failed (or a TLS connection was refused by its peer).
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly reason: TlsErrorReason
  /** Which side saw the failure. */
  readonly side: "client" | "server"
  /** The peer: the address connected to (client) or the peer's address (server). */
  readonly address?: Address | undefined
  /** The TLS library's or runtime's code (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`). */
  readonly code?: string | undefined
  /** The library's message. */
  readonly detail?: string | undefined
  /** The handshake timeout in milliseconds, for `HandshakeTimeout`. */
  readonly timeout?: number | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const peer = this.address ? ` (${this.side === "client" ? "server" : "peer"} ${format(this.address)})` : ""
    const t = this.reason === "HandshakeTimeout" && this.timeout !== undefined ? ` after ${this.timeout}ms` : ""
    const code = this.code ? ` [${this.code}]` : ""
    const detail = this.detail && this.detail !== this.code ? `: ${this.detail}` : ""
    return `TLS ${this.side} handshake failed: ${this.reason}${t}${code}${peer}${detail}`
  }
}

/**
 * Maps a TLS library code (OpenSSL's as Node and Bun report them, BoringSSL's,
 * X.509 verification codes) and, failing that, its message (rustls', as
 * Deno reports them) to a {@link TlsErrorReason}.
 *
 * @example
 * ```ts
 * Tls.reasonOf("UNABLE_TO_VERIFY_LEAF_SIGNATURE") // "UnknownCa"
 * Tls.reasonOf("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED") // "NoCertificate"
 * Tls.reasonOf(undefined, "invalid peer certificate: UnknownIssuer") // "UnknownCa"
 * ```
 * @since 0.1.0
 * @category errors
 */
export const reasonOf: (code: string | undefined, message?: string | undefined) => TlsErrorReason = internal.reasonOf

/**
 * True for a code that comes from TLS (the handshake, certificate
 * verification or an alert) rather than from the socket beneath it.
 *
 * @since 0.1.0
 * @category errors
 */
export const isTlsCode: (code: string | undefined) => boolean = internal.isTlsCode

/**
 * The {@link TlsError} behind a failure, if there is one: the error itself,
 * or the `cause` of a `ConnectError` (reason `"Tls"`), `ListenError` or
 * `ConnectionError`, followed down the causes.
 *
 * @since 0.1.0
 * @category errors
 */
export const errorOf = (u: unknown): TlsError | undefined => {
  for (let i = 0; i < 8 && typeof u === "object" && u !== null; i++) {
    if (u instanceof TlsError) return u
    u = (u as { readonly cause?: unknown }).cause
  }
  return undefined
}

// ---------------------------------------------------------------------------
// listeners
// ---------------------------------------------------------------------------

/**
 * Handshake counters of a TLS listener.
 *
 * @since 0.1.0
 * @category listener
 */
export interface ListenerTlsStats {
  /** Handshakes that succeeded (connections handed to `accept`). */
  readonly handshakes: number
  /** Handshakes in progress. */
  readonly pending: number
  /** Handshakes that failed or timed out (those connections were closed). */
  readonly failures: number
  /** `failures` by reason. */
  readonly failuresByReason: Readonly<Record<TlsErrorReason, number>>
}

/**
 * The TLS side of a listener (`listener.tls`, present on TLS listeners).
 *
 * @since 0.1.0
 * @category listener
 */
export interface ListenerTls {
  /** The certificates the listener presents: `set` replaces them for new handshakes. */
  readonly certificates: CertificateSource
  readonly stats: () => ListenerTlsStats
}

// ---------------------------------------------------------------------------
// helpers for adapters
// ---------------------------------------------------------------------------

/**
 * Counters of a TLS listener, for adapters: count with `succeeded`, `started`
 * and `failed`, expose `stats`.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface ListenerTlsCounters {
  readonly started: () => void
  readonly succeeded: () => void
  readonly failed: (reason: TlsErrorReason) => void
  readonly stats: () => ListenerTlsStats
}

/**
 * New {@link ListenerTlsCounters}.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export const makeListenerCounters: () => ListenerTlsCounters = internal.makeListenerCounters

/**
 * The handshake deadlines of one listener, for adapters: one timer on the
 * Effect `Clock` for every handshake in progress (no runtime timer per
 * connection), so a test can drive it with `TestClock`.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export interface HandshakeTimer {
  /** Calls `onTimeout` once the timeout has passed, unless the returned function is called first. */
  readonly start: (onTimeout: () => void) => () => void
  /** Stops the timer: nothing fires afterwards. */
  readonly close: () => void
}

/**
 * A {@link HandshakeTimer} of `timeout` (default 10 s) on `clock`.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export const makeHandshakeTimer = (clock: Clock.Clock, timeout?: Duration.DurationInput | undefined): HandshakeTimer =>
  internal.makeHandshakeTimer(clock, handshakeTimeoutMillis(timeout))

/**
 * Finds the SNI entry for `serverName`: an exact (case-insensitive) name
 * first, then a `*.` wildcard for its first label.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export const lookupServerName: <A>(
  table: Readonly<Record<string, A>> | undefined,
  serverName: string
) => A | undefined = internal.lookupServerName

/**
 * Parses a subject alternative name list in OpenSSL's text form
 * (`DNS:a.example, IP Address:127.0.0.1, URI:"spiffe://x,y"`), which Node and
 * Bun report, into entries; `IP Address` becomes `IP`.
 *
 * @since 0.1.0
 * @category adapter helpers
 */
export const parseSubjectAltName: (text: string | undefined) => ReadonlyArray<SubjectAltName> =
  internal.parseSubjectAltName

/**
 * TLS defaults of a transport: every listen without its own `tls` option
 * uses `server`, every connect without one uses `client`.
 * @since 0.1.0
 * @category models
 */
export interface TlsDefaults {
  readonly server?: TlsServerOptions | undefined
  readonly client?: TlsClientOptions | undefined
}

/**
 * `transport` with TLS defaults (see {@link TlsDefaults}): what each adapter's
 * `layerTls` provides, so a whole program (or a conformance suite) runs over
 * TLS unchanged.
 * @since 0.1.0
 * @category constructors
 */
export const withDefaults = (transport: TransportService, defaults: TlsDefaults): TransportService => ({
  name: transport.name,
  listen: (address, options) =>
    transport.listen(
      address,
      options?.tls === undefined && defaults.server !== undefined ? { ...options, tls: defaults.server } : options
    ),
  connect: (address, options) =>
    transport.connect(
      address,
      options?.tls === undefined && defaults.client !== undefined ? { ...options, tls: defaults.client } : options
    )
})
