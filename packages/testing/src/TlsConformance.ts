/**
 * The TLS conformance suite: what a transport's TLS must do, through the
 * per-call options `listen(address, { tls })` and `connect(address, { tls })`
 * of a plain transport layer (so plain peers can be mixed in): the session
 * and peer certificate on `connection.tls`, ALPN, SNI, mutual TLS and its
 * refusals, typed handshake failures, the handshake timeout on both sides,
 * certificate reload on a live listener, a principal from the client
 * certificate in protocol middleware, and interop with the real
 * `openssl s_client`. Certificates are made with {@link Certs.generate}.
 *
 * @example
 * ```ts
 * // packages/node/test/tls.test.ts
 * import { TlsConformance } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * TlsConformance.run({ name: "node", layer: NodeTransport.layer })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import type { Address as Address$ } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Client } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Middleware } from "@wirekit/core"
import { Protocol } from "@wirekit/core"
import { ProtocolServer } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { Tls } from "@wirekit/core"
import type { Layer, Scope } from "effect"
import { Context, Deferred, Duration, Effect, Either, Fiber, pipe, Queue, Schedule, Schema } from "effect"
import { expect } from "vitest"
import * as Certs from "./Certs.ts"
import { dec, echoHandler, enc, randomBytes, sameBytes, writeRandomly } from "./internal.ts"
import * as StartTlsSuite from "./startTlsSuite.ts"
type Address = Address$.Address
const Transport = Transport$.Transport
type Transport = Transport$.Transport
type Listener = Transport$.Listener
type TransportService = Transport$.TransportService

/**
 * What an adapter passes to {@link run}.
 *
 * @since 0.1.0
 * @category options
 */
export interface TlsConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The transport under test, without TLS defaults: the suite passes TLS options per call and also connects plain peers. */
  readonly layer: Layer.Layer<Transport>
  /** Certificates to use. Default: a fresh set from {@link Certs.generate}. */
  readonly certs?: Certs.TestCertificates | undefined
  /** The `openssl` binary for the interop tests. Default `"openssl"`. */
  readonly openssl?: string | undefined
  /**
   * TLS behaviours the runtime cannot provide, each with the reason. A test
   * that needs one is skipped (its title gives the reason), or skips just the
   * checks that need it; and the suite then checks that the option fails
   * typed instead of being ignored (see {@link TlsConformanceGaps}).
   */
  readonly unsupported?: TlsConformanceGaps | undefined
}

/**
 * What a runtime's TLS cannot do, each with the reason shown in the skipped
 * test titles. An option the runtime cannot honour must fail with a
 * `ListenError` or `ConnectError` of reason `"Tls"` (or, for `set`, a
 * `TlsError`) whose `Tls.TlsError` has code `"ENOTSUP"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConformanceGaps {
  /** `connection.tls` cannot tell the negotiated protocol version and cipher (on either side). */
  readonly sessionDetails?: string | undefined
  /** A server cannot tell which name the client asked for: its `connection.tls.serverName` is always undefined. */
  readonly serverName?: string | undefined
  /** Servers cannot ask for client certificates (mutual TLS): `requestCert` fails listen. */
  readonly requestCert?: string | undefined
  /** Neither side can refuse TLS 1.2: `minVersion: "TLSv1.3"` fails listen and connect. */
  readonly minVersion?: string | undefined
  /** A listening socket's certificates cannot be replaced: `set` on a source a listener uses fails. */
  readonly reload?: string | undefined
  /**
   * Open plain connections cannot be upgraded (STARTTLS): the transport's
   * driver has no `startTls`, so `connection.startTls` fails with a
   * `TlsError` of code `ENOTSUP` on both sides, and the connection stays as
   * it was.
   */
  readonly startTls?: string | undefined
}

/**
 * Registers every TLS behaviour test for one transport.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (options: TlsConformanceOptions): void => {
  const certs = options.certs ?? Certs.generate()
  const openssl = options.openssl ?? "openssl"
  const any: Address = { host: "127.0.0.1", port: 0 }
  const withT = <A, E>(f: (t: TransportService) => Effect.Effect<A, E, Scope.Scope | Transport>) =>
    Effect.provide(Effect.flatMap(Transport, f), options.layer)

  const serverCerts = (extra?: Partial<Tls.ServerCertificates>): Tls.ServerCertificates => ({
    cert: certs.server.cert,
    key: certs.server.key,
    ca: certs.ca.cert,
    ...extra
  })
  const server = (
    extra?: Omit<Tls.TlsServerOptions, "certificates">,
    certificates?: Tls.TlsServerOptions["certificates"]
  ): Tls.TlsServerOptions => ({
    certificates: certificates ?? serverCerts(),
    ...extra
  })
  /** A client that trusts the test CA and checks the name `localhost` (it connects to 127.0.0.1). */
  const client = (extra?: Tls.TlsClientOptions): Tls.TlsClientOptions => ({
    ca: certs.ca.cert,
    serverName: "localhost",
    ...extra
  })

  /** A TLS echo server whose accepted connections are offered to the returned queue. */
  const echoServer = (t: TransportService, tls: Tls.TlsServerOptions) =>
    Effect.gen(function*() {
      const served = yield* Queue.unbounded<Connection.Connection>()
      const handler = Effect.flatMap(Connection.Connection, (conn) =>
        Effect.zipRight(Queue.offer(served, conn), echoHandler))
      const s = yield* Server.serve(yield* t.listen(any, { tls }), handler)
      return {
        server: s,
        served,
        tlsOf: () =>
          s.listener.tls!
      }
    })

  /** Sends `text`, ends, and returns what came back. */
  const roundTrip = (c: Connection.Connection, text: string) =>
    Effect.gen(function*() {
      yield* c.write(enc.encode(text))
      yield* c.end
      return dec.decode(yield* Connection.readAll(c))
    })

  /** Waits (up to 5 s) until `check` holds, so counters updated by the peer's side can catch up. */
  const eventually = (what: string, check: () => boolean) =>
    Effect.suspend(() => (check() ? Effect.void : Effect.fail(what))).pipe(
      Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
      Effect.orElse(() => Effect.sync(() => expect.fail(`${what} did not happen within 5 s`)))
    )

  const failures = (l: Listener) => l.tls!.stats().failuresByReason

  const gaps: TlsConformanceGaps = options.unsupported ?? {}
  /** A test title, with the reason when the test is skipped for a gap. */
  const needs = (title: string, gap: string | undefined) => (gap === undefined ? title : `${title} (skipped: ${gap})`)
  /** The server's view of the name the client asked for: undefined where the runtime cannot tell it. */
  const expectServerName = (actual: string | undefined, expected: string | undefined) =>
    expect(actual).toBe(gaps.serverName === undefined ? expected : undefined)
  /** An option the runtime cannot honour failed typed: reason Tls (for listen and connect) and a TlsError of code ENOTSUP. */
  const expectUnsupported = (err: { readonly _tag: string; readonly reason?: string }) => {
    if (err._tag !== "TlsError") expect(err.reason).toBe("Tls")
    const error = Tls.errorOf(err)
    expect(error?._tag).toBe("TlsError")
    expect(error?.code).toBe("ENOTSUP")
  }

  describe(`tls conformance: ${options.name}`, () => {
    it.scopedLive("a TLS echo is byte-exact; connection.tls tells the session and the peer's certificate on both sides", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { served, server: s } = yield* echoServer(t, server())
          const c = yield* t.connect(s.address, { timeout: 5000, tls: client() })
          const data = randomBytes(1024 * 1024, 5)
          const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 70_000), c.end))
          expect(sameBytes(yield* Connection.readAll(c), data)).toBe(true)
          yield* Fiber.join(writer)

          const info = c.tls!
          if (gaps.sessionDetails === undefined) {
            expect(info.protocol).toBe("TLSv1.3")
            expect(info.cipher).toMatch(/^TLS_/)
          }
          expect(info.alpnProtocol).toBeUndefined()
          expect(info.serverName).toBe("localhost")
          expect(info.authorized).toBe(true)
          expect(info.authorizationError).toBeUndefined()
          const peer = info.peerCertificate!
          expect(peer.subject.CN).toBe("localhost")
          expect(peer.issuer.CN).toBe("wirekit test CA")
          expect(peer.subjectAltName).toContainEqual({ type: "DNS", value: "localhost" })
          expect(peer.subjectAltName).toContainEqual({ type: "IP", value: "127.0.0.1" })
          const now = Date.now()
          expect(peer.validFrom.getTime()).toBeLessThanOrEqual(now + 60_000)
          expect(peer.validTo.getTime()).toBeGreaterThan(now)
          expect(peer.fingerprint256).toBe(yield* Effect.promise(() => Certs.fingerprint256(certs.server.cert)))
          expect(sameBytes(peer.raw, Certs.derOf(certs.server.cert))).toBe(true)
          expect(peer.serialNumber).toMatch(/^[0-9A-F]+$/)

          const sconn = yield* Queue.take(served)
          const sinfo = sconn.tls!
          if (gaps.sessionDetails === undefined) {
            expect(sinfo.protocol).toBe("TLSv1.3")
            expect(sinfo.cipher).toBe(info.cipher)
          }
          expectServerName(sinfo.serverName, "localhost")
          // no client certificate was asked for
          expect(sinfo.peerCertificate).toBeUndefined()
          expect(sinfo.authorized).toBe(false)
          expect(s.listener.tls!.stats().handshakes).toBe(1)
          expect(s.listener.tls!.stats().failures).toBe(0)
        })
      ))

    it.scopedLive("a plain connection has no connection.tls; a plain peer on a TLS listener never reaches the handler", () =>
      withT((t) =>
        Effect.gen(function*() {
          const plain = yield* Server.serve(yield* t.listen(any), echoHandler)
          const pc = yield* t.connect(plain.address, { timeout: 2000 })
          expect(pc.tls).toBeUndefined()
          expect(yield* roundTrip(pc, "plain")).toBe("plain")

          const { server: s, tlsOf } = yield* echoServer(t, server())
          const stranger = yield* t.connect(s.address, { timeout: 2000 })
          yield* stranger.write(enc.encode("GET / HTTP/1.0\r\n\r\n"))
          // the server answers garbage with at most an alert, then closes
          yield* Effect.either(Connection.readAll(stranger))
          yield* eventually("the failed handshake is counted", () => tlsOf().stats().failures === 1)
          expect(s.accepted()).toBe(0)
          const good = yield* t.connect(s.address, { timeout: 5000, tls: client() })
          expect(yield* roundTrip(good, "still serving")).toBe("still serving")
        })
      ))

    it.scopedLive("ALPN: the server's first choice among the client's offers; no common protocol is a typed failure", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, served, tlsOf } = yield* echoServer(t, server({ alpnProtocols: ["wk/2", "wk/1"] }))
          const c = yield* t.connect(s.address, { timeout: 5000, tls: client({ alpnProtocols: ["wk/1", "wk/2"] }) })
          expect(c.tls!.alpnProtocol).toBe("wk/2")
          expect((yield* Queue.take(served)).tls!.alpnProtocol).toBe("wk/2")
          const c1 = yield* t.connect(s.address, { timeout: 5000, tls: client({ alpnProtocols: ["wk/1"] }) })
          expect(c1.tls!.alpnProtocol).toBe("wk/1")
          expect((yield* Queue.take(served)).tls!.alpnProtocol).toBe("wk/1")
          // a client that offers nothing gets no protocol
          const none = yield* t.connect(s.address, { timeout: 5000, tls: client() })
          expect(none.tls!.alpnProtocol).toBeUndefined()
          const err = yield* Effect.flip(
            t.connect(s.address, { timeout: 5000, tls: client({ alpnProtocols: ["other"] }) })
          )
          expect(err._tag).toBe("ConnectError")
          expect(err.reason).toBe("Tls")
          expect(Tls.errorOf(err)?.side).toBe("client")
          yield* eventually("the refusal is counted", () => tlsOf().stats().failures === 1)
          expect(tlsOf().stats().handshakes).toBe(3)
        })
      ))

    it.scopedLive("SNI: the certificate listed under the requested name (exact or wildcard); the default otherwise", () =>
      withT((t) =>
        Effect.gen(function*() {
          const certificates = serverCerts({ sni: { "alt.test": certs.alt, "*.alt.test": certs.alt } })
          const { server: s, served } = yield* echoServer(t, server({}, certificates))
          const alt = yield* t.connect(s.address, { timeout: 5000, tls: client({ serverName: "alt.test" }) })
          expect(alt.tls!.peerCertificate!.subject.CN).toBe("alt.test")
          expect(alt.tls!.authorized).toBe(true)
          expectServerName((yield* Queue.take(served)).tls!.serverName, "alt.test")
          const wild = yield* t.connect(s.address, { timeout: 5000, tls: client({ serverName: "API.Alt.Test" }) })
          expect(wild.tls!.peerCertificate!.subject.CN).toBe("alt.test")
          expectServerName((yield* Queue.take(served)).tls!.serverName?.toLowerCase(), "api.alt.test")
          // by IP address: no SNI is sent, the default certificate answers and lists the address
          const byIp = yield* t.connect(s.address, { timeout: 5000, tls: { ca: certs.ca.cert } })
          expect(byIp.tls!.peerCertificate!.subject.CN).toBe("localhost")
          expect(byIp.tls!.authorized).toBe(true)
          expect((yield* Queue.take(served)).tls!.serverName).toBeUndefined()
          // an unlisted name gets the default certificate, which does not match it
          const unlisted = yield* Effect.flip(
            t.connect(s.address, { timeout: 5000, tls: client({ serverName: "nowhere.test" }) })
          )
          expect(Tls.errorOf(unlisted)?.reason).toBe("HostnameMismatch")
          const unchecked = yield* t.connect(s.address, {
            timeout: 5000,
            tls: client({ serverName: "nowhere.test", rejectUnauthorized: false })
          })
          expect(unchecked.tls!.peerCertificate!.subject.CN).toBe("localhost")
          expect(unchecked.tls!.authorized).toBe(false)
          expect(unchecked.tls!.authorizationError).toBeDefined()
        })
      ))

    it.scopedLive.skipIf(gaps.requestCert !== undefined)(
      needs("mutual TLS: the verified client certificate is on the server's connection", gaps.requestCert),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const { server: s, served } = yield* echoServer(t, server({ requestCert: true }))
            const c = yield* t.connect(s.address, { timeout: 5000, tls: client({ certificate: certs.client }) })
            expect(yield* roundTrip(c, "mutual")).toBe("mutual")
            const info = (yield* Queue.take(served)).tls!
            expect(info.authorized).toBe(true)
            const peer = info.peerCertificate!
            expect(peer.subject.CN).toBe(Certs.clientName)
            expect(peer.subject.O).toBe("wirekit")
            expect(peer.issuer.CN).toBe("wirekit test CA")
            expect(peer.subjectAltName).toEqual([])
            expect(peer.fingerprint256).toBe(yield* Effect.promise(() => Certs.fingerprint256(certs.client.cert)))
            expect(sameBytes(peer.raw, Certs.derOf(certs.client.cert))).toBe(true)
          })
        )
    )

    it.scopedLive.skipIf(gaps.requestCert !== undefined)(
      needs(
        "mutual TLS: a client without a certificate gets a typed refusal (NoCertificate); the server keeps serving",
        gaps.requestCert
      ),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const { server: s, tlsOf } = yield* echoServer(t, server({ requestCert: true }))
            // TLS 1.3: the client's handshake may complete before the server checks; the refusal then fails the first read
            const refused = yield* Effect.flip(
              Effect.flatMap(t.connect(s.address, { timeout: 5000, tls: client() }), (c) => c.read)
            )
            const error = Tls.errorOf(refused)
            expect(error?.reason).toBe("NoCertificate")
            expect(error?.side).toBe("client")
            yield* eventually("the refusal is counted", () => failures(s.listener).NoCertificate === 1)
            expect(s.accepted()).toBe(0)
            const good = yield* t.connect(s.address, { timeout: 5000, tls: client({ certificate: certs.client }) })
            expect(yield* roundTrip(good, "with a certificate")).toBe("with a certificate")
            expect(tlsOf().stats().handshakes).toBe(1)
          })
        )
    )

    it.scopedLive.skipIf(gaps.requestCert !== undefined)(
      needs(
        "mutual TLS: a client certificate from an unknown CA is refused (UnknownCa) and never reaches the handler",
        gaps.requestCert
      ),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const { server: s } = yield* echoServer(t, server({ requestCert: true }))
            const outcome = yield* Effect.either(
              Effect.flatMap(
                t.connect(s.address, { timeout: 5000, tls: client({ certificate: certs.otherClient }) }),
                (c) => roundTrip(c, "let me in")
              )
            )
            // refused in the handshake, or closed right after it: never echoed
            expect(Either.isRight(outcome) ? outcome.right : "refused").not.toBe("let me in")
            yield* eventually("the refusal is counted", () => failures(s.listener).UnknownCa === 1)
            expect(s.accepted()).toBe(0)
          })
        )
    )

    it.scopedLive.skipIf(gaps.requestCert !== undefined)(
      needs(
        "mutual TLS with rejectUnauthorized: false: unverified clients are let in and connection.tls says so",
        gaps.requestCert
      ),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const { server: s, served } = yield* echoServer(t, server({ requestCert: true, rejectUnauthorized: false }))
            const stranger = yield* t.connect(s.address, {
              timeout: 5000,
              tls: client({ certificate: certs.otherClient })
            })
            expect(yield* roundTrip(stranger, "hi")).toBe("hi")
            const info = (yield* Queue.take(served)).tls!
            expect(info.authorized).toBe(false)
            expect(Tls.reasonOf(info.authorizationError)).toBe("UnknownCa")
            expect(info.peerCertificate!.issuer.CN).toBe("wirekit other CA")
            const anonymous = yield* t.connect(s.address, { timeout: 5000, tls: client() })
            expect(yield* roundTrip(anonymous, "hi")).toBe("hi")
            const anon = (yield* Queue.take(served)).tls!
            expect(anon.authorized).toBe(false)
            expect(anon.peerCertificate).toBeUndefined()
          })
        )
    )

    it.scopedLive("a server certificate from an unknown CA, or for another name, fails connect with a typed TlsError", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, served: served0 } = yield* echoServer(t, server())
          const unknown = yield* Effect.flip(
            t.connect(s.address, { timeout: 5000, tls: client({ ca: certs.otherCa.cert }) })
          )
          expect(unknown._tag).toBe("ConnectError")
          expect(unknown.reason).toBe("Tls")
          expect(unknown.address).toEqual(s.address)
          const error = Tls.errorOf(unknown)!
          expect(error._tag).toBe("TlsError")
          expect(error.reason).toBe("UnknownCa")
          expect(error.side).toBe("client")
          expect(error.code).toBeTruthy()
          expect(unknown.code).toBe(error.code)
          expect(error.message).toContain("UnknownCa")
          // (what the server sees depends on the client: an alert, or, from a client that checks after
          // its handshake, a connection that ends at once; either way no data reaches the handler)

          const mismatch = yield* Effect.flip(
            t.connect(s.address, { timeout: 5000, tls: client({ serverName: "example.com" }) })
          )
          expect(Tls.errorOf(mismatch)?.reason).toBe("HostnameMismatch")

          // a server presenting a certificate of the other CA
          const other = yield* echoServer(t, server({}, { cert: certs.otherServer.cert, key: certs.otherServer.key }))
          const rogue = yield* Effect.flip(t.connect(other.server.address, { timeout: 5000, tls: client() }))
          expect(Tls.errorOf(rogue)?.reason).toBe("UnknownCa")
          // ... which a client trusting that CA accepts
          const trusting = yield* t.connect(other.server.address, {
            timeout: 5000,
            tls: client({ ca: [certs.ca.cert, certs.otherCa.cert] })
          })
          expect(yield* roundTrip(trusting, "ok")).toBe("ok")
          const served = yield* Queue.size(served0)
          for (let i = 0; i < served; i++) {
            expect(yield* Connection.readAll(yield* Queue.take(served0))).toEqual(new Uint8Array(0))
          }
        })
      ))

    it.scopedLive("handshake timeout (server): a peer that connects and sends nothing, or trickles bytes, is closed at the deadline", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, tlsOf } = yield* echoServer(t, server({ handshakeTimeout: Duration.millis(300) }))
          const silent = yield* t.connect(s.address, { timeout: 2000 })
          const start = Date.now()
          // closed: EOF, or a reset, both within a generous bound
          yield* Effect.either(Connection.readAll(silent)).pipe(Effect.timeout(Duration.seconds(5)))
          const elapsed = Date.now() - start
          expect(elapsed).toBeGreaterThanOrEqual(250)
          expect(elapsed).toBeLessThan(4000)
          yield* eventually("the timeout is counted", () => failures(s.listener).HandshakeTimeout === 1)

          // the deadline counts from the accept, whatever the peer sends meanwhile: here the header of
          // a 512-byte handshake record, then its body a byte every 50 ms
          const trickler = yield* t.connect(s.address, { timeout: 2000 })
          const t0 = Date.now()
          yield* trickler.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]))
          const trickle = yield* Effect.fork(Effect.forever(
            Effect.zipRight(Effect.ignore(trickler.write(new Uint8Array([0x01]))), Effect.sleep(Duration.millis(50)))
          ))
          yield* Effect.either(Connection.readAll(trickler)).pipe(Effect.timeout(Duration.seconds(5)))
          yield* Fiber.interrupt(trickle)
          expect(Date.now() - t0).toBeLessThan(4000)
          yield* eventually("the second timeout is counted", () => failures(s.listener).HandshakeTimeout === 2)

          // a connection whose handshake finished is not affected by the deadline
          const good = yield* t.connect(s.address, { timeout: 5000, tls: client() })
          yield* Effect.sleep(Duration.millis(600))
          expect(yield* roundTrip(good, "after the deadline")).toBe("after the deadline")
          expect(s.accepted()).toBe(1)
          expect(tlsOf().stats().pending).toBe(0)
        })
      ))

    it.scopedLive("handshake timeout (client): a server that never answers fails connect with HandshakeTimeout; a shorter connect timeout wins as TimedOut", () =>
      withT((t) =>
        Effect.gen(function*() {
          // a plain listener that accepts and never says a word
          const mute = yield* t.listen(any)
          const start = Date.now()
          const err = yield* Effect.flip(
            t.connect(mute.address, { timeout: 5000, tls: client({ handshakeTimeout: "300 millis" }) })
          )
          expect(Date.now() - start).toBeGreaterThanOrEqual(250)
          expect(err.reason).toBe("Tls")
          const error = Tls.errorOf(err)!
          expect(error.reason).toBe("HandshakeTimeout")
          expect(error.timeout).toBe(300)
          const err2 = yield* Effect.flip(
            t.connect(mute.address, { timeout: 300, tls: client({ handshakeTimeout: "5 seconds" }) })
          )
          expect(err2.reason).toBe("TimedOut")
          expect(err2.timeout).toBe(300)
        })
      ))

    it.scopedLive.skipIf(gaps.reload !== undefined)(
      needs(
        "certificate reload: new handshakes present the new certificate, open connections are untouched; a bad one is refused and changes nothing",
        gaps.reload
      ),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const source = yield* Tls.makeCertificateSource({ cert: certs.server.cert, key: certs.server.key })
            const { server: s } = yield* echoServer(t, server({}, source))
            expect(s.listener.tls!.certificates).toBe(source)
            const before = yield* Effect.promise(() => Certs.fingerprint256(certs.server.cert))
            const after = yield* Effect.promise(() => Certs.fingerprint256(certs.serverNext.cert))
            expect(before).not.toBe(after)

            const old = yield* t.connect(s.address, { timeout: 5000, tls: client() })
            expect(old.tls!.peerCertificate!.fingerprint256).toBe(before)
            yield* source.set({ cert: certs.serverNext.cert, key: certs.serverNext.key })
            const renewed = yield* t.connect(s.address, { timeout: 5000, tls: client() })
            expect(renewed.tls!.peerCertificate!.fingerprint256).toBe(after)
            // the connection made before the reload still works
            expect(yield* roundTrip(old, "old")).toBe("old")

            // a key that does not belong to the certificate: refused, nothing changes
            const bad = yield* Effect.flip(source.set({ cert: certs.serverNext.cert, key: certs.server.key }))
            expect(bad._tag).toBe("TlsError")
            expect(bad.reason).toBe("BadCertificate")
            expect((yield* source.get).key).toBe(certs.serverNext.key)
            const still = yield* t.connect(s.address, { timeout: 5000, tls: client() })
            expect(still.tls!.peerCertificate!.fingerprint256).toBe(after)
            expect(yield* roundTrip(renewed, "renewed")).toBe("renewed")
            expect(s.listener.tls!.stats().handshakes).toBe(3)
          })
        )
    )

    it.scopedLive.skipIf(gaps.reload !== undefined)(
      needs("one certificate source feeds several listeners: one set renews them all", gaps.reload),
      () =>
        withT((t) =>
          Effect.gen(function*() {
            const source = yield* Tls.makeCertificateSource({ cert: certs.server.cert, key: certs.server.key })
            const a = yield* t.listen(any, { tls: server({}, source) })
            const b = yield* t.listen(any, { tls: server({}, source) })
            yield* source.set({ cert: certs.serverNext.cert, key: certs.serverNext.key })
            const after = yield* Effect.promise(() => Certs.fingerprint256(certs.serverNext.cert))
            for (const l of [a, b]) {
              const accepted = yield* Effect.fork(l.accept)
              const c = yield* t.connect(l.address, { timeout: 5000, tls: client() })
              expect(c.tls!.peerCertificate!.fingerprint256).toBe(after)
              yield* Fiber.join(accepted)
            }
          })
        )
    )

    it.scopedLive("a certificate that does not match its key fails listen with a ListenError of reason Tls", () =>
      withT((t) =>
        Effect.gen(function*() {
          const err = yield* Effect.flip(
            t.listen(any, { tls: server({}, { cert: certs.server.cert, key: certs.client.key }) })
          )
          expect(err._tag).toBe("ListenError")
          expect(err.reason).toBe("Tls")
          expect(Tls.errorOf(err)?.reason).toBe("BadCertificate")
          const garbage = yield* Effect.flip(
            t.listen(any, { tls: server({}, { cert: "not a certificate", key: certs.server.key }) })
          )
          expect(garbage.reason).toBe("Tls")
        })
      ))

    // what a runtime cannot do must fail where it is asked for, never be ignored
    if (gaps.requestCert !== undefined) {
      it.scopedLive(`unsupported: requestCert fails listen typed (${gaps.requestCert})`, () =>
        withT((t) =>
          Effect.gen(function*() {
            expectUnsupported(yield* Effect.flip(t.listen(any, { tls: server({ requestCert: true }) })))
            expectUnsupported(
              yield* Effect.flip(t.listen(any, { tls: server({ requestCert: true, rejectUnauthorized: false }) }))
            )
          })
        ))
    }

    if (gaps.minVersion !== undefined) {
      it.scopedLive(`unsupported: minVersion TLSv1.3 fails listen and connect typed (${gaps.minVersion})`, () =>
        withT((t) =>
          Effect.gen(function*() {
            expectUnsupported(yield* Effect.flip(t.listen(any, { tls: server({ minVersion: "TLSv1.3" }) })))
            const { server: s } = yield* echoServer(t, server())
            expectUnsupported(
              yield* Effect.flip(t.connect(s.address, { timeout: 5000, tls: client({ minVersion: "TLSv1.3" }) }))
            )
            // TLSv1.2, the default, is what the runtime does anyway: accepted
            const c = yield* t.connect(s.address, { timeout: 5000, tls: client({ minVersion: "TLSv1.2" }) })
            expect(yield* roundTrip(c, "v1.2 minimum")).toBe("v1.2 minimum")
          })
        ))
    }

    if (gaps.reload !== undefined) {
      it.scopedLive(`unsupported: set on a source a listener uses fails typed and changes nothing (${gaps.reload})`, () =>
        withT((t) =>
          Effect.gen(function*() {
            const source = yield* Tls.makeCertificateSource({ cert: certs.server.cert, key: certs.server.key })
            const { server: s } = yield* echoServer(t, server({}, source))
            expect(s.listener.tls!.certificates).toBe(source)
            expectUnsupported(
              yield* Effect.flip(source.set({ cert: certs.serverNext.cert, key: certs.serverNext.key }))
            )
            expect((yield* source.get).cert).toBe(certs.server.cert)
            const c = yield* t.connect(s.address, { timeout: 5000, tls: client() })
            expect(c.tls!.peerCertificate!.fingerprint256).toBe(
              yield* Effect.promise(() => Certs.fingerprint256(certs.server.cert))
            )
            expect(yield* roundTrip(c, "unchanged")).toBe("unchanged")
          })
        ))
    }

    it.scopedLive.skipIf(gaps.requestCert !== undefined)(
      needs("a protocol middleware turns the client certificate into a principal", gaps.requestCert),
      () =>
        Effect.gen(function*() {
          class Principal extends Context.Tag("TlsConformance/Principal")<Principal, { readonly name: string }>() {}
          const Whoami = Protocol.schema({ name: "whoami", request: Schema.String, response: Schema.String })
          const handler = pipe(
            (greeting: string) => Effect.map(Principal, (p) => `${greeting}, ${p.name}`),
            Middleware.provideService(Principal, (_req: string, { session }) => {
              const peer = session.connection.tls?.peerCertificate
              const cn = peer?.subject.CN
              return session.connection.tls?.authorized && typeof cn === "string"
                ? Effect.succeed({ name: cn })
                : Effect.fail(new Protocol.ProtocolError({ reason: "Unauthorized" }))
            })
          )
          const s = yield* ProtocolServer.serve(Whoami, handler, { tls: server({ requestCert: true }) })
          const c = yield* Client.make(Whoami, s.address, {
            connection: { tls: client({ certificate: certs.client }) }
          })
          expect(yield* c.request("hello")).toBe(`hello, ${Certs.clientName}`)
        }).pipe(Effect.provide(options.layer))
    )

    describe("interop with openssl s_client", () => {
      /** Runs `openssl s_client` with `args`, feeding it `input`; its exit code and output. */
      const sClient = (port: number, args: ReadonlyArray<string>, input: Uint8Array) =>
        Effect.gen(function*() {
          const cp = yield* Effect.promise(() => import("node:child_process"))
          const files = Certs.writeFiles({ ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key })
          yield* Effect.addFinalizer(() => Effect.sync(files.remove))
          const argv = [
            "s_client",
            "-connect",
            `127.0.0.1:${port}`,
            "-quiet",
            "-CAfile",
            files.paths.ca!,
            "-verify_return_error",
            ...args
          ]
            .map((a) => a.replace("{cert}", files.paths.cert!).replace("{key}", files.paths.key!))
          return yield* Effect.async<{ code: number | null; stdout: Uint8Array; stderr: string }, Error>((resume) => {
            const child = cp.spawn(openssl, argv, { stdio: ["pipe", "pipe", "pipe"] })
            const out: Array<Uint8Array> = []
            let err = ""
            child.stdout!.on("data", (d: Uint8Array) => out.push(new Uint8Array(d)))
            child.stderr!.on("data", (d: Uint8Array) => (err += dec.decode(d)))
            // a refused handshake closes the pipe under our write
            child.stdin!.on("error", () => {})
            child.on("error", (e) => resume(Effect.fail(e)))
            child.on("close", (code) => resume(Effect.succeed({ code, stdout: Connection.concat(out), stderr: err })))
            child.stdin!.end(input)
            return Effect.sync(() => child.kill("SIGKILL"))
          }).pipe(Effect.timeoutFail({
            duration: Duration.seconds(15),
            onTimeout: () => new Error("openssl s_client did not finish within 15 s")
          }))
        })

      /** A TLS server that echoes `n` bytes, then closes (s_client -quiet ignores its own end of input). */
      const echoN = (t: TransportService, tls: Tls.TlsServerOptions, n: number) =>
        Effect.gen(function*() {
          const seen = yield* Deferred.make<Tls.TlsInfo | undefined>()
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* Deferred.succeed(seen, conn.tls)
            let left = n
            while (left > 0) {
              const chunks = yield* conn.readMany
              if (chunks === Connection.EOF) return
              for (const chunk of chunks) left -= chunk.length
              yield* conn.writeAll(chunks)
            }
          })
          const s = yield* Server.serve(yield* t.listen(any, { tls }), handler)
          return { port: (s.address as { port: number }).port, seen, server: s }
        })

      it.scopedLive("a -quiet session through a TLS echo is byte-exact (256 KiB of every byte value)", () =>
        withT((t) =>
          Effect.gen(function*() {
            const data = randomBytes(256 * 1024, 77)
            const { port, seen } = yield* echoN(t, server(), data.length)
            const result = yield* sClient(port, ["-servername", "localhost"], data)
            expect(result.code).toBe(0)
            expect(result.stdout.length).toBe(data.length)
            expect(sameBytes(result.stdout, data)).toBe(true)
            const info = (yield* Deferred.await(seen))!
            expectServerName(info.serverName, "localhost")
            if (gaps.sessionDetails === undefined) expect(info.protocol).toBe("TLSv1.3")
          })
        ))

      it.scopedLive(
        needs(
          "TLS 1.2 is negotiated with a TLS 1.2 client, and refused (ProtocolVersion) with minVersion TLSv1.3",
          gaps.minVersion && `the minVersion part: ${gaps.minVersion}`
        ),
        () =>
          withT((t) =>
            Effect.gen(function*() {
              const ok = yield* echoN(t, server(), 5)
              const r = yield* sClient(ok.port, ["-tls1_2", "-servername", "localhost"], enc.encode("hello"))
              expect(r.code).toBe(0)
              expect(dec.decode(r.stdout)).toBe("hello")
              const seen = (yield* Deferred.await(ok.seen))!
              if (gaps.sessionDetails === undefined) expect(seen.protocol).toBe("TLSv1.2")
              if (gaps.minVersion !== undefined) return

              const strict = yield* echoN(t, server({ minVersion: "TLSv1.3" }), 5)
              const refused = yield* sClient(strict.port, ["-tls1_2"], enc.encode("hello"))
              expect(refused.code).not.toBe(0)
              expect(refused.stdout.length).toBe(0)
              yield* eventually("the refusal is counted", () => failures(strict.server.listener).ProtocolVersion === 1)
              expect(strict.server.accepted()).toBe(0)
            })
          )
      )

      it.scopedLive(
        needs(
          "ALPN and a client certificate from s_client reach connection.tls",
          gaps.requestCert && `the client certificate part: ${gaps.requestCert}`
        ),
        () =>
          withT((t) =>
            Effect.gen(function*() {
              // without mutual TLS, the ALPN part alone
              const mutual = gaps.requestCert === undefined
              const { port, seen } = yield* echoN(
                t,
                server({ ...(mutual ? { requestCert: true } : {}), alpnProtocols: ["wk/1"] }),
                4
              )
              const r = yield* sClient(
                port,
                ["-alpn", "wk/1", ...(mutual ? ["-cert", "{cert}", "-key", "{key}"] : [])],
                enc.encode("ping")
              )
              expect(r.code).toBe(0)
              expect(dec.decode(r.stdout)).toBe("ping")
              const info = (yield* Deferred.await(seen))!
              expect(info.alpnProtocol).toBe("wk/1")
              if (mutual) {
                expect(info.authorized).toBe(true)
                expect(info.peerCertificate!.subject.CN).toBe(Certs.clientName)
              }
            })
          )
      )

      it.scopedLive.skipIf(gaps.requestCert !== undefined)(
        needs(
          "mutual TLS: s_client without a certificate is refused (NoCertificate), and nothing is echoed",
          gaps.requestCert
        ),
        () =>
          withT((t) =>
            Effect.gen(function*() {
              const { port, server: s } = yield* echoN(t, server({ requestCert: true }), 4)
              const r = yield* sClient(port, [], enc.encode("ping"))
              expect(r.stdout.length).toBe(0)
              expect(r.stderr).toMatch(/certificate required|alert/i)
              yield* eventually("the refusal is counted", () => failures(s.listener).NoCertificate === 1)
              expect(s.accepted()).toBe(0)
            })
          )
      )
    })

    StartTlsSuite.run({
      name: options.name,
      layer: options.layer,
      certs,
      openssl,
      unsupported: gaps.startTls,
      sessionDetails: gaps.sessionDetails === undefined
    })
  })
}
