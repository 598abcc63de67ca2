/**
 * TLS helpers of the Deno transport: PEM text for Deno's options, rustls
 * errors as typed `Tls.TlsError`s, the peer certificate, and the server-name
 * check Deno skips when `rejectUnauthorized` is false.
 * @internal
 */
import { Tls } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import type { DenoNamespace, TlsConn } from "../deno-types.d.ts"
import { ipBytes } from "./reset.ts"

/** Where `Deno.listenTls` looks for a certificate resolver (SNI). */
export const sniResolverKey: unique symbol = Symbol.for("unstableSniResolver") as never
/** Where `Deno.connectTls` looks for a server name other than `hostname`. */
export const serverNameKey: unique symbol = Symbol.for("unstableServerName") as never

const decoder = new TextDecoder()

/** PEM as the string Deno takes. */
export const pemText = (pem: Tls.Pem): string => (typeof pem === "string" ? pem : decoder.decode(pem))

/** One PEM text holding every block of a chain given as one PEM or several. */
export const chainText = (pem: Tls.Pem | ReadonlyArray<Tls.Pem>): string =>
  Array.isArray(pem) ? (pem as ReadonlyArray<Tls.Pem>).map(pemText).join("\n") : pemText(pem as Tls.Pem)

/** CA certificates as Deno's `caCerts` (each entry may hold several blocks). */
export const caList = (ca: Tls.Pem | ReadonlyArray<Tls.Pem> | undefined): Array<string> =>
  ca === undefined ? [] : Array.isArray(ca) ? (ca as ReadonlyArray<Tls.Pem>).map(pemText) : [pemText(ca as Tls.Pem)]

/** The error code wirekit reports for a TLS feature Deno does not have. */
export const unsupportedCode = "ENOTSUP"

/** The TlsError of a TLS option Deno cannot honour. */
export const unsupported = (
  side: "client" | "server",
  address: Address.Address | undefined,
  detail: string
): Tls.TlsError => new Tls.TlsError({ reason: "Other", side, address, code: unsupportedCode, detail })

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()

/**
 * A code for a rustls error message (Deno gives rustls' text only, as an
 * `InvalidData` error): `RUSTLS_` and the rustls variant in upper snake case,
 * e.g. `RUSTLS_UNKNOWN_ISSUER`, `RUSTLS_ALERT_UNKNOWN_CA`. Alerts keep the
 * `ALERT_<NAME>` form OpenSSL's codes use, so `Tls.reasonOf` maps them from
 * the code alone. Undefined for a message that is not one of rustls'.
 */
export const rustlsCode = (message: string): string | undefined => {
  const alert = /received fatal alert: (\w+)/.exec(message)
  if (alert !== null) return `RUSTLS_ALERT_${snake(alert[1]!)}`
  const cert = /invalid peer certificate: (.*)$/s.exec(message)
  if (cert !== null) {
    const what = cert[1]!
    if (/not valid for name/i.test(what)) return "RUSTLS_NOT_VALID_FOR_NAME"
    if (/not valid yet|NotValidYet/i.test(what)) return "RUSTLS_NOT_VALID_YET"
    if (/expired/i.test(what)) return "RUSTLS_EXPIRED"
    const word = /^(\w+)/.exec(what)
    return word !== null ? `RUSTLS_${snake(word[1]!)}` : "RUSTLS_INVALID_CERTIFICATE"
  }
  if (/peer is incompatible/i.test(message)) return "RUSTLS_PEER_INCOMPATIBLE"
  if (/peer misbehaved/i.test(message)) return "RUSTLS_PEER_MISBEHAVED"
  if (/received corrupt message/i.test(message)) return "RUSTLS_CORRUPT_MESSAGE"
  if (/peer sent no certificates/i.test(message)) return "RUSTLS_NO_CERTIFICATES_PRESENTED"
  if (/doesn't support any known protocol/i.test(message)) return "RUSTLS_NO_APPLICATION_PROTOCOL"
  if (/KeyMismatch/.test(message)) return "RUSTLS_KEY_MISMATCH"
  if (/No certificates found/i.test(message)) return "RUSTLS_NO_CERTIFICATES"
  if (/No keys found/i.test(message)) return "RUSTLS_NO_KEYS"
  return undefined
}

const nameOf = (
  error: unknown
) => (typeof error === "object" && error !== null ? (error as { name?: unknown }).name : undefined)
const messageOf = (error: unknown) =>
  typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
    ? (error as { message: string }).message
    : String(error)

/** True for an error of the TLS layer (rustls' verdicts and alerts) rather than of the socket beneath. */
export const isTlsFailure = (error: unknown): boolean =>
  nameOf(error) === "InvalidData" && rustlsCode(messageOf(error)) !== undefined

/** True for Deno refusing a certificate or key it was given (bad PEM, a key that does not match). */
export const isCertificateLoadFailure = (error: unknown): boolean => {
  const code = rustlsCode(messageOf(error))
  return code === "RUSTLS_KEY_MISMATCH" || code === "RUSTLS_NO_CERTIFICATES" || code === "RUSTLS_NO_KEYS" ||
    (nameOf(error) === "TypeError" && /\bcert\b|\bkey\b/.test(messageOf(error)))
}

/**
 * A peer that closed its TCP side without TLS close_notify: rustls fails the
 * read; node ends the stream, and so do we (a plain FIN on TCP is an end too).
 */
export const isUnexpectedEof = (error: unknown): boolean => nameOf(error) === "UnexpectedEof"

/**
 * The TlsError of a failed handshake (or TLS alert), from Deno's error;
 * `socketCode` maps a socket error (a reset mid-handshake) to its code.
 */
export const tlsError = (
  error: unknown,
  side: "client" | "server",
  address: Address.Address | undefined,
  socketCode: (error: unknown) => string | undefined,
  note?: (reason: Tls.TlsErrorReason) => string | undefined
): Tls.TlsError => {
  const message = messageOf(error)
  const code = rustlsCode(message) ?? socketCode(error)
  const reason = Tls.reasonOf(code, message)
  const why = note?.(reason)
  return new Tls.TlsError({
    reason,
    side,
    address,
    code,
    detail: why === undefined ? message : `${message} (${why})`,
    cause: error
  })
}

/** A TlsError for certificates or keys Deno refused to load: always `BadCertificate`. */
export const certificateError = (error: unknown, side: "client" | "server"): Tls.TlsError => {
  const message = messageOf(error)
  return new Tls.TlsError({
    reason: "BadCertificate",
    side,
    code: rustlsCode(message) ?? "RUSTLS_INVALID_CERTIFICATE_DATA",
    detail: message,
    cause: error
  })
}

// ---------------------------------------------------------------------------
// peer certificate
// ---------------------------------------------------------------------------

/** The shape Deno's internal `getPeerCertificate` returns (node's). */
interface NodeStylePeerCertificate {
  readonly subject?: object
  readonly issuer?: object
  readonly subjectaltname?: string
  readonly valid_from?: string
  readonly valid_to?: string
  readonly fingerprint256?: string
  readonly serialNumber?: string
  readonly raw?: Uint8Array
}

const distinguishedName = (dn: object | undefined): Tls.DistinguishedName => {
  const out: Record<string, string | ReadonlyArray<string>> = {}
  if (dn) { for (const [k, v] of Object.entries(dn)) out[k] = Array.isArray(v) ? v.map(String) : String(v) }
  return out
}

/**
 * The peer's certificate of a TLS connection whose handshake is done. Deno
 * has no public API for it: this reads the hook its node compatibility layer
 * uses (`Deno[Deno.internal].getPeerCertificate`), checking its shape, and
 * returns undefined when it is missing or changed.
 */
export const peerCertificate = (deno: DenoNamespace, conn: TlsConn): Tls.PeerCertificate | undefined => {
  try {
    const key = deno.internal
    if (key === undefined) return undefined
    const hooks = (deno as unknown as Record<symbol, { readonly getPeerCertificate?: unknown } | undefined>)[key]
    const method = hooks?.getPeerCertificate
    if (typeof method !== "symbol") return undefined
    const get = (conn as unknown as Record<symbol, unknown>)[method]
    if (typeof get !== "function") return undefined
    const c = (get as (detailed: boolean) => NodeStylePeerCertificate | null).call(conn, false)
    if (c === null || typeof c !== "object" || !(c.raw instanceof Uint8Array)) return undefined
    return {
      subject: distinguishedName(c.subject),
      issuer: distinguishedName(c.issuer),
      subjectAltName: Tls.parseSubjectAltName(c.subjectaltname),
      validFrom: new Date(c.valid_from ?? NaN),
      validTo: new Date(c.valid_to ?? NaN),
      fingerprint256: String(c.fingerprint256 ?? "").toUpperCase(),
      serialNumber: String(c.serialNumber ?? "").toUpperCase(),
      raw: c.raw
    }
  } catch {
    return undefined
  }
}

/**
 * Whether a certificate is valid for `name` as rustls checks it: an IP
 * address against its IP entries, a name against its DNS entries (`*.` for
 * exactly one first label, case-insensitive); the subject's CN is not used.
 */
export const certificateMatches = (certificate: Tls.PeerCertificate, name: string): boolean => {
  const ip = ipBytes(name)
  if (ip !== undefined) {
    return certificate.subjectAltName.some((san) => {
      if (san.type !== "IP") return false
      const b = ipBytes(san.value)
      return b !== undefined && b.length === ip.length && b.every((x, i) => x === ip[i])
    })
  }
  const host = name.toLowerCase().replace(/\.$/, "")
  return certificate.subjectAltName.some((san) => {
    if (san.type !== "DNS") return false
    const pattern = san.value.toLowerCase().replace(/\.$/, "")
    if (pattern === host) return true
    if (!pattern.startsWith("*.")) return false
    const dot = host.indexOf(".")
    return dot > 0 && host.slice(dot) === pattern.slice(1)
  })
}
