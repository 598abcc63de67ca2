import { Effect } from "effect"
import type { Clock } from "effect"
import type {
  CertificateSource,
  CertificateSourceTypeId as TypeIdT,
  HandshakeTimer,
  ListenerTlsCounters,
  ServerCertificates,
  SubjectAltName,
  TlsError,
  TlsErrorReason
} from "../Tls.ts"
import { Deadlines } from "./deadlines.ts"

/** The same symbol as `Tls.CertificateSourceTypeId` (kept here so this module does not import Tls.ts at run time). */
const CertificateSourceTypeId = Symbol.for("@wirekit/core/Tls/CertificateSource") as TypeIdT

/** @internal */
export const makeCertificateSource = (initial: ServerCertificates): CertificateSource => {
  let current = initial
  const subscribers = new Set<(certificates: ServerCertificates) => TlsError | (() => void)>()
  const source: Omit<CertificateSource, TypeIdT> = {
    get: Effect.sync(() => current),
    unsafeGet: () => current,
    // two phases: every listener checks the certificates before any starts using them
    set: (certificates) =>
      Effect.suspend(() => {
        const commits: Array<() => void> = []
        for (const prepare of subscribers) {
          const prepared = prepare(certificates)
          if (typeof prepared !== "function") return Effect.fail(prepared)
          commits.push(prepared)
        }
        current = certificates
        for (const commit of commits) commit()
        return Effect.void
      }),
    unsafeSubscribe: (prepare) => {
      subscribers.add(prepare)
      return () => {
        subscribers.delete(prepare)
      }
    }
  }
  return Object.assign(source, { [CertificateSourceTypeId]: CertificateSourceTypeId }) as unknown as CertificateSource
}

// ---------------------------------------------------------------------------
// error codes
// ---------------------------------------------------------------------------

/** X.509 verification results, as Node and Bun name them (OpenSSL's X509_V_ERR_* without the prefix). */
const verifyCodes: Readonly<Record<string, TlsErrorReason>> = {
  UNABLE_TO_GET_ISSUER_CERT: "UnknownCa",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "UnknownCa",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "UnknownCa",
  DEPTH_ZERO_SELF_SIGNED_CERT: "UnknownCa",
  SELF_SIGNED_CERT_IN_CHAIN: "UnknownCa",
  CERT_HAS_EXPIRED: "CertificateExpired",
  CERT_NOT_YET_VALID: "CertificateExpired",
  HOSTNAME_MISMATCH: "HostnameMismatch",
  IP_ADDRESS_MISMATCH: "HostnameMismatch",
  EMAIL_MISMATCH: "HostnameMismatch",
  ERR_TLS_CERT_ALTNAME_INVALID: "HostnameMismatch",
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "BadCertificate",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "BadCertificate",
  CERT_SIGNATURE_FAILURE: "BadCertificate",
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "BadCertificate",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "BadCertificate",
  CERT_CHAIN_TOO_LONG: "BadCertificate",
  CERT_REVOKED: "BadCertificate",
  INVALID_CA: "BadCertificate",
  PATH_LENGTH_EXCEEDED: "BadCertificate",
  INVALID_PURPOSE: "BadCertificate",
  CERT_UNTRUSTED: "BadCertificate",
  CERT_REJECTED: "BadCertificate",
  ERR_TLS_HANDSHAKE_TIMEOUT: "HandshakeTimeout"
}

/**
 * Fragments of OpenSSL / BoringSSL reason codes (`ERR_SSL_<reason>` in Node,
 * the bare reason in Bun), checked in order: alerts first, since an alert is
 * the peer's verdict.
 */
const sslFragments: ReadonlyArray<readonly [string, TlsErrorReason]> = [
  ["ALERT_UNKNOWN_CA", "UnknownCa"],
  ["ALERT_CERTIFICATE_EXPIRED", "CertificateExpired"],
  ["ALERT_CERTIFICATE_REQUIRED", "NoCertificate"],
  ["ALERT_BAD_CERTIFICATE", "BadCertificate"],
  ["ALERT_UNSUPPORTED_CERTIFICATE", "BadCertificate"],
  ["ALERT_CERTIFICATE_REVOKED", "BadCertificate"],
  ["ALERT_CERTIFICATE_UNKNOWN", "BadCertificate"],
  ["ALERT_PROTOCOL_VERSION", "ProtocolVersion"],
  ["PEER_DID_NOT_RETURN_A_CERTIFICATE", "NoCertificate"],
  ["UNSUPPORTED_PROTOCOL", "ProtocolVersion"],
  ["NO_PROTOCOLS_AVAILABLE", "ProtocolVersion"],
  ["VERSION_TOO_LOW", "ProtocolVersion"],
  ["VERSION_TOO_HIGH", "ProtocolVersion"],
  ["WRONG_SSL_VERSION", "ProtocolVersion"],
  ["UNSUPPORTED_SSL_VERSION", "ProtocolVersion"],
  ["CERTIFICATE_VERIFY_FAILED", "BadCertificate"],
  // our own certificate or key, refused when building the context
  ["KEY_VALUES_MISMATCH", "BadCertificate"],
  ["PEM_NO_START_LINE", "BadCertificate"],
  ["PEM_BAD_BASE64_DECODE", "BadCertificate"],
  ["BAD_DECRYPT", "BadCertificate"],
  ["UNSUPPORTED_PRIVATE_KEY_ALGORITHM", "BadCertificate"]
]

/** rustls' verdicts (Deno), matched in the message: variant names and their Display text (`received fatal alert: CertificateRequired`, `peer is incompatible: ...`). */
const messageFragments: ReadonlyArray<readonly [RegExp, TlsErrorReason]> = [
  [/UnknownIssuer|unknown ?ca|self[- ]signed/i, "UnknownCa"],
  [/NotValidForName|hostname mismatch|not valid for name/i, "HostnameMismatch"],
  [/Expired|NotValidYet|expired|not valid yet/, "CertificateExpired"],
  [/NoCertificatesPresented|peer sent no certificates|certificate ?required/i, "NoCertificate"],
  [/ProtocolVersion|protocol version|PeerIncompatible|peer is incompatible/i, "ProtocolVersion"],
  [/handshake tim(ed )?out/i, "HandshakeTimeout"],
  [/BadEncoding|BadSignature|UnsupportedCertVersion|bad ?certificate|invalid peer certificate/i, "BadCertificate"]
]

/** @internal */
export const reasonOf = (code: string | undefined, message?: string | undefined): TlsErrorReason => {
  if (code !== undefined && code !== "") {
    const direct = verifyCodes[code]
    if (direct !== undefined) return direct
    const upper = code.toUpperCase()
    for (const [fragment, reason] of sslFragments) if (upper.includes(fragment)) return reason
  }
  if (message !== undefined && message !== "") {
    for (const [re, reason] of messageFragments) if (re.test(message)) return reason
  }
  return "Other"
}

/** @internal */
export const isTlsCode = (code: string | undefined): boolean =>
  code !== undefined &&
  (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || code.startsWith("ERR_OSSL_") ||
    verifyCodes[code] !== undefined || code.includes("ALERT_"))

// ---------------------------------------------------------------------------
// listener helpers
// ---------------------------------------------------------------------------

const noFailures = (): Record<TlsErrorReason, number> => ({
  BadCertificate: 0,
  UnknownCa: 0,
  CertificateExpired: 0,
  HostnameMismatch: 0,
  ProtocolVersion: 0,
  HandshakeTimeout: 0,
  NoCertificate: 0,
  Other: 0
})

/** @internal */
export const makeListenerCounters = (): ListenerTlsCounters => {
  let handshakes = 0
  let pending = 0
  let failures = 0
  const byReason = noFailures()
  return {
    started: () => {
      pending++
    },
    succeeded: () => {
      pending--
      handshakes++
    },
    failed: (reason) => {
      pending--
      failures++
      byReason[reason]++
    },
    stats: () => ({ handshakes, pending, failures, failuresByReason: { ...byReason } })
  }
}

/** @internal */
export const makeHandshakeTimer = (clock: Clock.Clock, millis: number): HandshakeTimer => {
  const deadlines = new Deadlines(clock)
  return {
    start: (onTimeout) => {
      const deadline = deadlines.add(millis, onTimeout)
      return () => deadlines.cancel(deadline)
    },
    close: () => deadlines.close()
  }
}

/** Each SNI table, its keys lower-cased once. */
const normalized = new WeakMap<object, Map<string, unknown>>()

/** @internal */
export const lookupServerName = <A>(
  table: Readonly<Record<string, A>> | undefined,
  serverName: string
): A | undefined => {
  if (table === undefined) return undefined
  let names = normalized.get(table) as Map<string, A> | undefined
  if (names === undefined) {
    names = new Map()
    for (const [name, value] of Object.entries(table)) names.set(name.toLowerCase(), value)
    normalized.set(table, names)
  }
  const name = serverName.toLowerCase()
  const exact = names.get(name)
  if (exact !== undefined) return exact
  const dot = name.indexOf(".")
  return dot > 0 ? names.get(`*${name.slice(dot)}`) : undefined
}

/** @internal */
export const parseSubjectAltName = (text: string | undefined): ReadonlyArray<SubjectAltName> => {
  const out: Array<SubjectAltName> = []
  if (text === undefined) return out
  let i = 0
  const n = text.length
  while (i < n) {
    while (i < n && (text[i] === " " || text[i] === ",")) i++
    if (i >= n) break
    const colon = text.indexOf(":", i)
    if (colon < 0) break
    const rawType = text.slice(i, colon)
    i = colon + 1
    let value: string
    if (text[i] === "\"") {
      // a quoted value (it contained a comma or a quote): a JSON string
      let j = i + 1
      while (j < n && text[j] !== "\"") j += text[j] === "\\" ? 2 : 1
      const quoted = text.slice(i, j + 1)
      try {
        value = JSON.parse(quoted) as string
      } catch {
        value = quoted.slice(1, -1)
      }
      i = j + 1
    } else {
      const end = text.indexOf(", ", i)
      value = end < 0 ? text.slice(i) : text.slice(i, end)
      i = end < 0 ? n : end
    }
    out.push({ type: rawType === "IP Address" ? "IP" : rawType, value })
  }
  return out
}
