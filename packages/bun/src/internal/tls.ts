/// <reference path="../bun-types.d.ts" />
/**
 * TLS on Bun's native sockets: the options `Bun.listen` / `Bun.connect` take,
 * the native contexts behind SNI and certificate reload, what a socket tells
 * about its session, and Bun's (BoringSSL's) errors as typed `Tls.TlsError`s.
 *
 * Two things Bun 1.4 has no public call for are reached through its own
 * `node:tls`, which runs on the same native listener:
 * - a context per server name: `tls.createSecureContext(options).context` is
 *   the native context that the listener's `serverName` handler returns;
 * - replacing a running listener's default certificate: `tls.Server`'s
 *   `setSecureContext` does it on the native listener it wraps (its `_handle`),
 *   so it is lent ours.
 * Both are checked before use; where they are missing, the option fails with a
 * TlsError of code `ENOTSUP` saying so, it is never ignored.
 *
 * @internal
 */
import type { Address } from "@wirekit/core"
import { Tls } from "@wirekit/core"
import * as NodeTls from "node:tls"

type SystemError = WirekitBun.SystemError
type Socket = WirekitBun.Socket<unknown>
type NativeSecureContext = WirekitBun.NativeSecureContext

const decoder = new TextDecoder()

/** PEM as text (it is ASCII, whatever form it came in). */
export const pemText = (pem: Tls.Pem): string => (typeof pem === "string" ? pem : decoder.decode(pem))

const pemList = (pem: Tls.Pem | ReadonlyArray<Tls.Pem>): Array<string> =>
  Array.isArray(pem) ? (pem as ReadonlyArray<Tls.Pem>).map(pemText) : [pemText(pem as Tls.Pem)]

/** A certificate and its intermediates as one PEM: the first block is the certificate, the rest its chain. */
const chainText = (cert: Tls.Pem | ReadonlyArray<Tls.Pem>): string => pemList(cert).join("\n")

/** TLS protocol numbers, as Bun's `minVersion` takes them. */
const protocolNumbers: Readonly<Record<Tls.TlsVersion, number>> = { "TLSv1.2": 0x0303, "TLSv1.3": 0x0304 }

/** An option Bun cannot honour: a TlsError that says so (code `ENOTSUP`). */
export const unsupported = (side: "client" | "server", detail: string, address?: Address.Address): Tls.TlsError =>
  new Tls.TlsError({ reason: "Other", side, address, code: "ENOTSUP", detail })

/** A bad option of ours (not Bun's): reason Other, code `ERR_INVALID_ARG_VALUE`. */
const invalid = (side: "client" | "server", detail: string): Tls.TlsError =>
  new Tls.TlsError({ reason: "Other", side, code: "ERR_INVALID_ARG_VALUE", detail })

/** ALPN names in wire format: each prefixed by its length (1 to 255 bytes). */
const alpnWire = (protocols: ReadonlyArray<string>, side: "client" | "server"): ArrayBuffer => {
  const encoder = new TextEncoder()
  const names = protocols.map((p) => encoder.encode(p))
  const out = new Uint8Array(names.reduce((n, b) => n + 1 + b.length, 0))
  let i = 0
  for (const [k, name] of names.entries()) {
    if (name.length === 0 || name.length > 255) {
      throw invalid(side, `ALPN protocol ${JSON.stringify(protocols[k])} must be 1 to 255 bytes`)
    }
    out[i++] = name.length
    out.set(name, i)
    i += name.length
  }
  return out.buffer
}

/** The TLS part of `Bun.listen`'s options: the default certificate, the CAs, client certificates, ALPN, the minimum version. */
export const serverOptions = (
  certificates: Tls.ServerCertificates,
  tls: Tls.TlsServerOptions
): WirekitBun.TlsOptions => {
  const requestCert = tls.requestCert ?? false
  return {
    cert: chainText(certificates.cert),
    key: pemText(certificates.key),
    ...(certificates.passphrase !== undefined ? { passphrase: certificates.passphrase } : {}),
    ...(certificates.ca !== undefined ? { ca: pemList(certificates.ca) } : {}),
    requestCert,
    rejectUnauthorized: requestCert && (tls.rejectUnauthorized ?? true),
    ...(tls.alpnProtocols !== undefined ? { ALPNProtocols: alpnWire(tls.alpnProtocols, "server") } : {}),
    minVersion: protocolNumbers[tls.minVersion ?? Tls.defaults.minVersion]
  }
}

/** The TLS part of `Bun.connect`'s options, with the name to send (`""`: none). */
export const clientOptions = (tls: Tls.TlsClientOptions, serverName: string | undefined): WirekitBun.TlsOptions => {
  const pair = tls.certificate
  return {
    ...(tls.ca !== undefined ? { ca: pemList(tls.ca) } : {}),
    ...(pair !== undefined ? { cert: chainText(pair.cert), key: pemText(pair.key) } : {}),
    ...(pair?.passphrase !== undefined ? { passphrase: pair.passphrase } : {}),
    serverName: serverName ?? "",
    rejectUnauthorized: tls.rejectUnauthorized ?? Tls.defaults.rejectUnauthorized,
    ...(tls.alpnProtocols !== undefined ? { ALPNProtocols: alpnWire(tls.alpnProtocols, "client") } : {}),
    minVersion: protocolNumbers[tls.minVersion ?? Tls.defaults.minVersion]
  }
}

/** The node:tls options of one native context: a certificate of the listener and what verifies client certificates. */
const contextOptions = (pair: Tls.KeyPair, certificates: Tls.ServerCertificates, tls: Tls.TlsServerOptions) => {
  const requestCert = tls.requestCert ?? false
  return {
    cert: chainText(pair.cert),
    key: pemText(pair.key),
    ...(pair.passphrase !== undefined ? { passphrase: pair.passphrase } : {}),
    // the CAs go into every context: a context chosen by SNI verifies client certificates with its own store
    ...(certificates.ca !== undefined ? { ca: pemList(certificates.ca) } : {}),
    minVersion: tls.minVersion ?? Tls.defaults.minVersion,
    requestCert,
    rejectUnauthorized: requestCert && (tls.rejectUnauthorized ?? true)
  }
}

/** A native context, built (and so checked) now: throws Bun's error for a bad certificate or key. */
const nativeContext = (options: ReturnType<typeof contextOptions>): NativeSecureContext => {
  const made = NodeTls.createSecureContext(options as NodeTls.SecureContextOptions) as unknown as {
    readonly context?: unknown
  }
  if (typeof made.context !== "object" || made.context === null) {
    throw unsupported(
      "server",
      "SNI needs the native contexts of Bun 1.4's node:tls (tls.createSecureContext().context), which this Bun lacks"
    )
  }
  return made.context as NativeSecureContext
}

/** The contexts chosen by server name, keys as given (lookups go through `Tls.lookupServerName`). */
export type SniContexts = Readonly<Record<string, NativeSecureContext>> | undefined

/** Builds (and so checks) the context of every SNI entry. */
export const sniContexts = (certificates: Tls.ServerCertificates, tls: Tls.TlsServerOptions): SniContexts => {
  if (certificates.sni === undefined) return undefined
  const out: Record<string, NativeSecureContext> = {}
  for (const [name, pair] of Object.entries(certificates.sni)) {
    out[name] = nativeContext(contextOptions(pair, certificates, tls))
  }
  return out
}

/** Checks the default certificate of `certificates` the way a listener would load it. */
export const checkDefault = (certificates: Tls.ServerCertificates, tls: Tls.TlsServerOptions): void => {
  nativeContext(contextOptions(certificates, certificates, tls))
}

/** A node:tls server that never listens: its `setSecureContext` is lent to our listeners. Made on first use. */
let lender: { readonly setSecureContext?: unknown } | undefined

/**
 * The function that replaces a running listener's default certificate, or
 * the TlsError (ENOTSUP) saying why this Bun cannot.
 */
export const defaultReplacer = ():
  | Tls.TlsError
  | ((listener: WirekitBun.Listener, certificates: Tls.ServerCertificates, tls: Tls.TlsServerOptions) => void) =>
{
  lender ??= NodeTls.createServer() as unknown as { readonly setSecureContext?: unknown }
  const setSecureContext = lender.setSecureContext
  if (typeof setSecureContext !== "function") {
    return unsupported(
      "server",
      "replacing a listener's certificate needs Bun 1.4's node:tls Server.setSecureContext, which this Bun lacks"
    )
  }
  return (listener, certificates, tls) => {
    const options = contextOptions(certificates, certificates, tls)
    // the fields node:tls' Server keeps and setSecureContext reads back, on a stand-in for the server
    const server = {
      _handle: listener,
      _requestCert: options.requestCert,
      _rejectUnauthorized: options.rejectUnauthorized
    }
    ;(setSecureContext as (this: unknown, options: unknown) => void).call(server, options)
  }
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/**
 * The code of a TLS failure as Bun reports it: BoringSSL's reason from the
 * message (`error:...:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA` comes with code
 * `EPROTO`), else Bun's code (`SELF_SIGNED_CERT_IN_CHAIN`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`, `ERR_OSSL_...`).
 */
export const codeOf = (err: unknown): string | undefined => {
  const e = err as { readonly code?: unknown; readonly message?: unknown } | null | undefined
  const message = typeof e?.message === "string" ? e.message : ""
  const reason = /OPENSSL_internal:([A-Z0-9_]+)/.exec(message)
  if (reason !== null) return reason[1]
  return typeof e?.code === "string" ? e.code : undefined
}

/** BoringSSL's reason in a message (`error:...:OPENSSL_internal:REASON`). */
const hasLibraryReason = (err: SystemError): boolean =>
  typeof err.message === "string" && err.message.includes("OPENSSL_internal:")

/** True for the result of checking a certificate (`SELF_SIGNED_CERT_IN_CHAIN`), false for a failed handshake or socket (`EPROTO`, `ECONNRESET`). */
export const isVerifyError = (err: SystemError): boolean => {
  const code = err.code
  return typeof code === "string" && !/^E[A-Z0-9]+$/.test(code) && !hasLibraryReason(err)
}

/** True when `err` comes from TLS (an alert or a handshake failure), not from the socket beneath. */
export const isTlsFailure = (err: SystemError): boolean => hasLibraryReason(err) || Tls.isTlsCode(err.code)

/** A TlsError from Bun's error. */
export const tlsError = (
  err: unknown,
  side: "client" | "server",
  address: Address.Address | undefined,
  reason?: Tls.TlsErrorReason
): Tls.TlsError => {
  if (err instanceof Tls.TlsError) return err
  const code = codeOf(err)
  const message = (err as { readonly message?: unknown } | null)?.message
  const detail = typeof message === "string" ? message.trim() : String(err)
  return new Tls.TlsError({ reason: reason ?? Tls.reasonOf(code, detail), side, address, code, detail, cause: err })
}

// ---------------------------------------------------------------------------
// what a socket tells
// ---------------------------------------------------------------------------

const toDistinguishedName = (dn: object | null | undefined): Tls.DistinguishedName => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  if (dn) { for (const [k, v] of Object.entries(dn)) out[k] = Array.isArray(v) ? [...(v as Array<string>)] : String(v) }
  return out
}

const toPeerCertificate = (c: WirekitBun.PeerCertificate, raw: Uint8Array): Tls.PeerCertificate => ({
  subject: toDistinguishedName(c.subject),
  issuer: toDistinguishedName(c.issuer),
  subjectAltName: Tls.parseSubjectAltName(c.subjectaltname),
  validFrom: new Date(c.valid_from),
  validTo: new Date(c.valid_to),
  fingerprint256: c.fingerprint256,
  serialNumber: c.serialNumber.toUpperCase(),
  raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
})

/** The peer's certificate, when it sent one. */
export const peerCertificate = (s: Socket): Tls.PeerCertificate | undefined => {
  const cert = s.getPeerCertificate()
  return cert?.raw !== undefined && cert.raw.byteLength > 0 ? toPeerCertificate(cert, cert.raw) : undefined
}

/**
 * The session of a socket whose handshake is done. `verifyError` is the
 * handshake's verification result; `peer` the peer's certificate, when it is
 * to be reported (on a server: when it asked for one).
 */
export const tlsInfo = (
  s: Socket,
  serverName: string | undefined,
  peer: Tls.PeerCertificate | undefined,
  verifyError: SystemError | null | undefined,
  authorized: boolean
): Tls.TlsInfo => {
  const cipher = s.getCipher()
  const alpn = s.alpnProtocol
  return {
    protocol: s.getTLSVersion() ?? "unknown",
    cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
    alpnProtocol: typeof alpn === "string" && alpn !== "" ? alpn : undefined,
    serverName,
    authorized,
    authorizationError: authorized || peer === undefined || verifyError === null || verifyError === undefined
      ? undefined
      : verifyError.code ?? verifyError.message,
    peerCertificate: peer
  }
}
