import { describe, it } from "@effect/vitest"
import { Connection, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Exit, TestClock } from "effect"
import { expect } from "vitest"

describe("Tls.reasonOf", () => {
  it("maps X.509 verification codes (Node, Bun)", () => {
    expect(Tls.reasonOf("UNABLE_TO_VERIFY_LEAF_SIGNATURE")).toBe("UnknownCa")
    expect(Tls.reasonOf("SELF_SIGNED_CERT_IN_CHAIN")).toBe("UnknownCa")
    expect(Tls.reasonOf("DEPTH_ZERO_SELF_SIGNED_CERT")).toBe("UnknownCa")
    expect(Tls.reasonOf("CERT_HAS_EXPIRED")).toBe("CertificateExpired")
    expect(Tls.reasonOf("CERT_NOT_YET_VALID")).toBe("CertificateExpired")
    expect(Tls.reasonOf("ERR_TLS_CERT_ALTNAME_INVALID")).toBe("HostnameMismatch")
    expect(Tls.reasonOf("CERT_REVOKED")).toBe("BadCertificate")
    expect(Tls.reasonOf("ERR_TLS_HANDSHAKE_TIMEOUT")).toBe("HandshakeTimeout")
  })

  it("maps OpenSSL alerts and reasons as Node reports them, and BoringSSL's bare names", () => {
    expect(Tls.reasonOf("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA")).toBe("UnknownCa")
    expect(Tls.reasonOf("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")).toBe("NoCertificate")
    expect(Tls.reasonOf("ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE")).toBe("NoCertificate")
    expect(Tls.reasonOf("ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE")).toBe("BadCertificate")
    expect(Tls.reasonOf("ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED")).toBe("CertificateExpired")
    expect(Tls.reasonOf("ERR_SSL_UNSUPPORTED_PROTOCOL")).toBe("ProtocolVersion")
    expect(Tls.reasonOf("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION")).toBe("ProtocolVersion")
    expect(Tls.reasonOf("ERR_OSSL_X509_KEY_VALUES_MISMATCH")).toBe("BadCertificate")
    expect(Tls.reasonOf("TLSV1_ALERT_UNKNOWN_CA")).toBe("UnknownCa")
    expect(Tls.reasonOf("ERR_SSL_NO_APPLICATION_PROTOCOL")).toBe("Other")
    expect(Tls.reasonOf("ECONNRESET")).toBe("Other")
    expect(Tls.reasonOf(undefined)).toBe("Other")
  })

  it("falls back to the message (rustls, as Deno reports it)", () => {
    expect(Tls.reasonOf(undefined, "invalid peer certificate: UnknownIssuer")).toBe("UnknownCa")
    expect(Tls.reasonOf(undefined, "invalid peer certificate: NotValidForName")).toBe("HostnameMismatch")
    expect(Tls.reasonOf(undefined, "invalid peer certificate: Expired")).toBe("CertificateExpired")
    expect(Tls.reasonOf(undefined, "peer sent no certificates")).toBe("NoCertificate")
    expect(Tls.reasonOf(undefined, "received fatal alert: ProtocolVersion")).toBe("ProtocolVersion")
    expect(Tls.reasonOf(undefined, "connection reset")).toBe("Other")
    // a known code wins over the message
    expect(Tls.reasonOf("CERT_HAS_EXPIRED", "UnknownIssuer")).toBe("CertificateExpired")
  })

  it("isTlsCode tells TLS codes from socket codes", () => {
    expect(Tls.isTlsCode("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")).toBe(true)
    expect(Tls.isTlsCode("UNABLE_TO_VERIFY_LEAF_SIGNATURE")).toBe(true)
    expect(Tls.isTlsCode("ECONNRESET")).toBe(false)
    expect(Tls.isTlsCode(undefined)).toBe(false)
  })
})

describe("Tls.errorOf", () => {
  it("finds the TlsError itself, or behind a ConnectError, ListenError or ConnectionError", () => {
    const tls = new Tls.TlsError({ reason: "UnknownCa", side: "client", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" })
    const address = { host: "127.0.0.1", port: 1 }
    expect(Tls.errorOf(tls)).toBe(tls)
    expect(Tls.errorOf(new Transport.ConnectError({ reason: "Tls", address, cause: tls }))).toBe(tls)
    expect(Tls.errorOf(new Transport.ListenError({ reason: "Tls", address, cause: tls }))).toBe(tls)
    expect(Tls.errorOf(new Connection.ConnectionError({ reason: "Other", operation: "read", cause: tls }))).toBe(tls)
    expect(Tls.errorOf(new Transport.ConnectError({ reason: "Refused", address }))).toBeUndefined()
    expect(Tls.errorOf("nope")).toBeUndefined()
  })

  it("says what happened in its message", () => {
    const e = new Tls.TlsError({
      reason: "HandshakeTimeout",
      side: "server",
      address: { host: "::1", port: 9 },
      timeout: 300
    })
    expect(e.message).toBe("TLS server handshake failed: HandshakeTimeout after 300ms (peer [::1]:9)")
  })
})

describe("Tls.parseSubjectAltName", () => {
  it("parses OpenSSL's text form, quoted values included", () => {
    expect(Tls.parseSubjectAltName("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")).toEqual([
      { type: "DNS", value: "localhost" },
      { type: "IP", value: "127.0.0.1" },
      { type: "IP", value: "0:0:0:0:0:0:0:1" }
    ])
    expect(Tls.parseSubjectAltName("URI:\"spiffe://a/b, c\", email:x@example.com, DNS:*.example.com")).toEqual([
      { type: "URI", value: "spiffe://a/b, c" },
      { type: "email", value: "x@example.com" },
      { type: "DNS", value: "*.example.com" }
    ])
    expect(Tls.parseSubjectAltName(undefined)).toEqual([])
    expect(Tls.parseSubjectAltName("")).toEqual([])
  })
})

describe("Tls.lookupServerName", () => {
  const table = { "api.example.com": "api", "*.example.com": "wild", "Other.Test": "other" }
  it("exact names first, case-insensitively, then a wildcard for one label", () => {
    expect(Tls.lookupServerName(table, "api.example.com")).toBe("api")
    expect(Tls.lookupServerName(table, "API.EXAMPLE.COM")).toBe("api")
    expect(Tls.lookupServerName(table, "www.example.com")).toBe("wild")
    expect(Tls.lookupServerName(table, "a.b.example.com")).toBeUndefined()
    expect(Tls.lookupServerName(table, "example.com")).toBeUndefined()
    expect(Tls.lookupServerName(table, "other.test")).toBe("other")
    expect(Tls.lookupServerName(undefined, "x")).toBeUndefined()
  })
})

describe("Tls.CertificateSource", () => {
  const first: Tls.ServerCertificates = { cert: "first-cert", key: "first-key" }
  const second: Tls.ServerCertificates = { cert: "second-cert", key: "second-key" }

  it.effect("set checks with every listener first: one refusal changes nothing anywhere", () =>
    Effect.gen(function*() {
      const source = yield* Tls.makeCertificateSource(first)
      expect(Tls.isCertificateSource(source)).toBe(true)
      expect(Tls.isCertificateSource(first)).toBe(false)
      const applied: Array<string> = []
      source.unsafeSubscribe((c) => () => applied.push(`a:${c.cert}`))
      const refuse = source.unsafeSubscribe((c) =>
        c.cert === "second-cert"
          ? new Tls.TlsError({ reason: "BadCertificate", side: "server" })
          : () => applied.push(`b:${c.cert}`)
      )
      const exit = yield* Effect.exit(source.set(second))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(applied).toEqual([])
      expect(yield* source.get).toBe(first)
      // once the refusing listener is gone, the set goes through to the others
      refuse()
      yield* source.set(second)
      expect(applied).toEqual(["a:second-cert"])
      expect(source.unsafeGet()).toBe(second)
    }))
})

describe("Tls.makeHandshakeTimer", () => {
  it.effect("fires on the Clock (TestClock here) after the timeout, unless cancelled; close stops it", () =>
    Effect.gen(function*() {
      const timer = Tls.makeHandshakeTimer(yield* Effect.clock, "1 second")
      const fired: Array<string> = []
      timer.start(() => fired.push("a"))
      const cancelB = timer.start(() => fired.push("b"))
      yield* TestClock.adjust(Duration.millis(500))
      timer.start(() => fired.push("c"))
      cancelB()
      yield* TestClock.adjust(Duration.millis(499))
      expect(fired).toEqual([])
      yield* TestClock.adjust(Duration.millis(1))
      expect(fired).toEqual(["a"])
      yield* TestClock.adjust(Duration.millis(500))
      expect(fired).toEqual(["a", "c"])
      timer.start(() => fired.push("d"))
      timer.close()
      yield* TestClock.adjust(Duration.seconds(5))
      expect(fired).toEqual(["a", "c"])
    }))

  it("the default handshake timeout is 10 seconds", () => {
    expect(Tls.handshakeTimeoutMillis(undefined)).toBe(10_000)
    expect(Tls.handshakeTimeoutMillis("250 millis")).toBe(250)
  })
})

describe("Tls.makeListenerCounters", () => {
  it("counts handshakes in progress, succeeded and failed by reason", () => {
    const counters = Tls.makeListenerCounters()
    counters.started()
    counters.started()
    counters.started()
    counters.succeeded()
    counters.failed("HandshakeTimeout")
    const stats = counters.stats()
    expect(stats.pending).toBe(1)
    expect(stats.handshakes).toBe(1)
    expect(stats.failures).toBe(1)
    expect(stats.failuresByReason.HandshakeTimeout).toBe(1)
    expect(stats.failuresByReason.UnknownCa).toBe(0)
  })
})
