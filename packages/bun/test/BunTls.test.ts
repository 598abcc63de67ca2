/**
 * TLS behaviours specific to the Bun adapter: the layer's TLS defaults, what
 * is sent and checked when connecting by address, certificate chains and
 * encrypted keys as Bun loads them, options refused before anything is sent,
 * the handshake deadline on the Effect Clock, and sockets still handshaking
 * when a listener closes or a connect is interrupted. The TLS contract itself
 * is proven by tls.test.ts (TlsConformance).
 */
import { describe, expect, it } from "@effect/vitest"
import { BunTransport } from "@wirekit/bun"
import { Connection, Tls, Transport } from "@wirekit/core"
import { Certs } from "@wirekit/testing"
import type { Layer } from "effect"
import { Deferred, Duration, Effect, Either, Exit, Fiber, Scope, TestClock } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const enc = new TextEncoder()
const dec = new TextDecoder()
const any = { host: "127.0.0.1", port: 0 }
const certs = Certs.generate()

const withT = <A, E>(
  f: (t: Transport.TransportService) => Effect.Effect<A, E, Scope.Scope | Transport.Transport>,
  layer: Layer.Layer<Transport.Transport> = BunTransport.layer
) => Effect.provide(Effect.flatMap(Transport.Transport, f), layer)

/** Runs openssl in a fresh directory holding `files`; returns the files it was asked to read back. */
const openssl = (
  files: Readonly<Record<string, string>>,
  commands: ReadonlyArray<ReadonlyArray<string>>,
  read: ReadonlyArray<string>
) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "wirekit-bun-tls-"))
  try {
    for (const [name, text] of Object.entries(files)) Fs.writeFileSync(Path.join(dir, name), text)
    for (const args of commands) {
      ChildProcess.execFileSync("openssl", args as Array<string>, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    }
    return Object.fromEntries(read.map((name) => [name, Fs.readFileSync(Path.join(dir, name), "utf8")]))
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const ecKey = (name: string) => ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name]

/** A server certificate issued by an intermediate CA, itself issued by the test CA. */
const chained = openssl(
  {
    "ca.pem": certs.ca.cert,
    "ca.key": certs.ca.key,
    "int.ext": "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n",
    "leaf.ext":
      "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n"
  },
  [
    ecKey("int.key"),
    ["req", "-new", "-key", "int.key", "-subj", "/O=wirekit/CN=wirekit intermediate", "-out", "int.csr"],
    [
      "x509",
      "-req",
      "-in",
      "int.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      "77",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      "int.ext",
      "-out",
      "int.pem"
    ],
    ecKey("leaf.key"),
    ["req", "-new", "-key", "leaf.key", "-subj", "/O=wirekit/CN=localhost", "-out", "leaf.csr"],
    [
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "int.pem",
      "-CAkey",
      "int.key",
      "-set_serial",
      "78",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      "leaf.ext",
      "-out",
      "leaf.pem"
    ]
  ],
  ["int.pem", "leaf.pem", "leaf.key"]
)

/** The server's key, encrypted with a passphrase. */
const encryptedKey = openssl(
  { "server.key": certs.server.key },
  [["pkey", "-in", "server.key", "-aes256", "-passout", "pass:s3cret", "-out", "enc.key"]],
  ["enc.key"]
)["enc.key"]!

/** Sends `text`, ends, and returns what came back. */
const roundTrip = (c: Connection.Connection, text: string) =>
  Effect.gen(function*() {
    yield* c.write(enc.encode(text))
    yield* c.end
    return dec.decode(yield* Connection.readAll(c))
  })

/** Echoes the first accepted connection of `l`. */
const echoOnce = (l: Transport.Listener) =>
  Effect.fork(Effect.scoped(Effect.gen(function*() {
    const s = yield* l.accept
    yield* s.write(yield* Connection.readAll(s))
    yield* s.end
    return s
  })))

/** A raw Bun TLS server that will not go above TLS 1.2, for the client's minimum version. */
const tls12Server = Effect.acquireRelease(
  Effect.sync(() => {
    const bun =
      (globalThis as unknown as { Bun: { listen: (o: unknown) => { port: number; stop: (all: boolean) => void } } }).Bun
    return bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: certs.server.cert, key: certs.server.key, maxVersion: 0x0303 },
      socket: { data: (s: { write: (d: Uint8Array) => number }, d: Uint8Array) => void s.write(d) }
    })
  }),
  (l) => Effect.sync(() => l.stop(true))
)

describe("BunTransport TLS", () => {
  it.scopedLive("layerTls: listens and connects speak TLS by default; a connect's own tls option wins over the default", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any)
        expect(l.tls).toBeDefined()
        const echo = yield* echoOnce(l)
        // the default client trusts the test CA; by address, the certificate must list 127.0.0.1
        const c = yield* t.connect(l.address, { timeout: 5000 })
        expect(c.tls?.authorized).toBe(true)
        expect(c.tls?.peerCertificate?.subject.CN).toBe("localhost")
        expect(yield* roundTrip(c, "by default")).toBe("by default")
        const s = yield* Fiber.join(echo)
        expect(s.tls?.protocol).toBe("TLSv1.3")
        // no SNI was sent for an address
        expect(s.tls?.serverName).toBeUndefined()
        expect(l.tls!.stats().handshakes).toBe(1)

        const err = yield* Effect.flip(t.connect(l.address, { timeout: 5000, tls: { ca: certs.otherCa.cert } }))
        expect(err.reason).toBe("Tls")
        expect(Tls.errorOf(err)?.reason).toBe("UnknownCa")
      }), BunTransport.layerTls(Certs.tlsDefaults(certs))))

  it.scopedLive("connecting by address checks the address: a certificate that does not list it fails HostnameMismatch, its name passes", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any, { tls: { certificates: { cert: certs.alt.cert, key: certs.alt.key } } })
        const err = yield* Effect.flip(t.connect(l.address, { timeout: 5000, tls: { ca: certs.ca.cert } }))
        expect(Tls.errorOf(err)?.reason).toBe("HostnameMismatch")
        expect(Tls.errorOf(err)?.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID")
        const c = yield* t.connect(l.address, { timeout: 5000, tls: { ca: certs.ca.cert, serverName: "api.alt.test" } })
        expect(c.tls?.authorized).toBe(true)
        expect(c.tls?.serverName).toBe("api.alt.test")
      })
    ))

  it.scopedLive("a certificate given with its intermediate ([certificate, intermediate], as bytes) is sent whole; without the intermediate the client cannot verify it", () =>
    withT((t) =>
      Effect.gen(function*() {
        const key = chained["leaf.key"]!
        const whole = yield* t.listen(any, {
          tls: { certificates: { cert: [enc.encode(chained["leaf.pem"]!), chained["int.pem"]!], key } }
        })
        const echo = yield* echoOnce(whole)
        const c = yield* t.connect(whole.address, {
          timeout: 5000,
          tls: { ca: certs.ca.cert, serverName: "localhost" }
        })
        expect(c.tls?.authorized).toBe(true)
        expect(c.tls?.peerCertificate?.issuer.CN).toBe("wirekit intermediate")
        expect(yield* roundTrip(c, "chained")).toBe("chained")
        yield* Fiber.join(echo)

        const bare = yield* t.listen(any, { tls: { certificates: { cert: chained["leaf.pem"]!, key } } })
        const err = yield* Effect.flip(
          t.connect(bare.address, { timeout: 5000, tls: { ca: certs.ca.cert, serverName: "localhost" } })
        )
        expect(Tls.errorOf(err)?.reason).toBe("UnknownCa")
      })
    ))

  it.scopedLive("certificate reload replaces the SNI entries too: a name added gets its certificate, a name dropped gets the new default", () =>
    withT((t) =>
      Effect.gen(function*() {
        const source = yield* Tls.makeCertificateSource({
          cert: certs.server.cert,
          key: certs.server.key,
          sni: { "alt.test": certs.alt }
        })
        const l = yield* t.listen(any, { tls: { certificates: source } })
        const cnFor = (serverName: string) =>
          Effect.map(
            t.connect(l.address, { timeout: 5000, tls: { ca: certs.ca.cert, serverName, rejectUnauthorized: false } }),
            (c) => [c.tls!.peerCertificate!.subject.CN, c.tls!.peerCertificate!.fingerprint256] as const
          )
        const next = yield* Effect.promise(() => Certs.fingerprint256(certs.serverNext.cert))
        expect((yield* cnFor("alt.test"))[0]).toBe("alt.test")
        expect((yield* cnFor("api.alt.test"))[0]).toBe("localhost")
        yield* source.set({ cert: certs.serverNext.cert, key: certs.serverNext.key, sni: { "*.alt.test": certs.alt } })
        // dropped: the exact name now gets the new default certificate
        expect(yield* cnFor("alt.test")).toEqual(["localhost", next])
        // added: the wildcard answers
        expect((yield* cnFor("api.alt.test"))[0]).toBe("alt.test")
        // a bad SNI entry is refused like a bad default, and nothing changes
        const bad = yield* Effect.flip(
          source.set({
            cert: certs.server.cert,
            key: certs.server.key,
            sni: { "x.test": { cert: certs.alt.cert, key: certs.client.key } }
          })
        )
        expect(bad.reason).toBe("BadCertificate")
        expect(yield* cnFor("alt.test")).toEqual(["localhost", next])
      })
    ))

  it.scopedLive("an encrypted key: its passphrase opens it; a wrong passphrase fails listen with reason Tls (BadCertificate)", () =>
    withT((t) =>
      Effect.gen(function*() {
        expect(encryptedKey).toContain("ENCRYPTED")
        const l = yield* t.listen(any, {
          tls: { certificates: { cert: certs.server.cert, key: encryptedKey, passphrase: "s3cret" } }
        })
        const echo = yield* echoOnce(l)
        const c = yield* t.connect(l.address, { timeout: 5000, tls: { ca: certs.ca.cert, serverName: "localhost" } })
        expect(yield* roundTrip(c, "unlocked")).toBe("unlocked")
        yield* Fiber.join(echo)

        const err = yield* Effect.flip(
          t.listen(any, { tls: { certificates: { cert: certs.server.cert, key: encryptedKey, passphrase: "wrong" } } })
        )
        expect(err.reason).toBe("Tls")
        expect(Tls.errorOf(err)?.reason).toBe("BadCertificate")
      })
    ))

  it.scopedLive("client minVersion TLSv1.3 refuses a TLS 1.2 server (ProtocolVersion); the default minimum accepts it and says TLSv1.2", () =>
    withT((t) =>
      Effect.gen(function*() {
        const server = yield* tls12Server
        const address = { host: "127.0.0.1", port: server.port }
        const err = yield* Effect.flip(
          t.connect(address, {
            timeout: 5000,
            tls: { ca: certs.ca.cert, serverName: "localhost", minVersion: "TLSv1.3" }
          })
        )
        expect(err.reason).toBe("Tls")
        expect(Tls.errorOf(err)?.reason).toBe("ProtocolVersion")
        const c = yield* t.connect(address, { timeout: 5000, tls: { ca: certs.ca.cert, serverName: "localhost" } })
        expect(c.tls?.protocol).toBe("TLSv1.2")
        yield* c.write(enc.encode("v1.2"))
        const got = yield* c.read
        expect(got === Connection.EOF ? "" : dec.decode(got)).toBe("v1.2")
      })
    ))

  it.scopedLive("an ALPN name must be 1 to 255 bytes: listen and connect fail with reason Tls before anything is sent", () =>
    withT((t) =>
      Effect.gen(function*() {
        const bad = yield* Effect.flip(
          t.listen(any, { tls: { certificates: certs.server, alpnProtocols: ["wk/1", ""] } })
        )
        expect(bad._tag).toBe("ListenError")
        expect(bad.reason).toBe("Tls")
        expect(Tls.errorOf(bad)?.code).toBe("ERR_INVALID_ARG_VALUE")
        // a plain listener sees no connection at all from the refused connect
        const l = yield* t.listen(any)
        const err = yield* Effect.flip(
          t.connect(l.address, { timeout: 2000, tls: { ca: certs.ca.cert, alpnProtocols: ["x".repeat(256)] } })
        )
        expect(err.reason).toBe("Tls")
        expect(Tls.errorOf(err)?.side).toBe("client")
        const accepted = yield* Effect.either(Effect.timeout(l.accept, Duration.millis(300)))
        expect(Either.isLeft(accepted)).toBe(true)
      })
    ))

  it.scoped("the server's handshake deadline runs on the Effect Clock: a silent peer is closed once the TestClock passes it, not before", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any, { tls: { certificates: certs.server, handshakeTimeout: "30 seconds" } })
        const silent = yield* t.connect(l.address, { timeout: 2000 })
        const closed = yield* Deferred.make<void>()
        yield* Effect.fork(
          Effect.zipRight(Effect.either(Connection.readAll(silent)), Deferred.succeed(closed, undefined))
        )
        const realWait = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
        yield* TestClock.adjust(Duration.seconds(29))
        yield* realWait(300)
        expect(yield* Deferred.isDone(closed)).toBe(false)
        expect(l.tls!.stats().pending).toBe(1)
        yield* TestClock.adjust(Duration.seconds(2))
        for (let i = 0; i < 100 && !(yield* Deferred.isDone(closed)); i++) yield* realWait(20)
        expect(yield* Deferred.isDone(closed)).toBe(true)
        expect(l.tls!.stats().failuresByReason.HandshakeTimeout).toBe(1)
        expect(l.tls!.stats().pending).toBe(0)
      })
    ))

  it.scopedLive("closing a TLS listener closes the connections still handshaking (long before their deadline)", () =>
    withT((t) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const l = yield* Scope.extend(
          t.listen(any, { tls: { certificates: certs.server, handshakeTimeout: "1 minute" } }),
          scope
        )
        const silent = yield* t.connect(l.address, { timeout: 2000 })
        // the TCP accept has happened when the handshake is counted as pending
        for (let i = 0; i < 100 && l.tls!.stats().pending === 0; i++) yield* Effect.sleep(Duration.millis(10))
        expect(l.tls!.stats().pending).toBe(1)
        yield* Scope.close(scope, Exit.void)
        const read = yield* Effect.either(Connection.readAll(silent)).pipe(Effect.timeout(Duration.seconds(3)))
        // closed: EOF or reset, within the bound (a timeout would fail the test here)
        expect(read._tag === "Left" || read.right.length === 0).toBe(true)
      })
    ))

  it.scopedLive("a TLS connect interrupted during its handshake releases its socket: the server sees it close", () =>
    withT((t) =>
      Effect.gen(function*() {
        // a plain listener that accepts and never says a word: the client waits in its handshake
        const mute = yield* t.listen(any)
        const attempt = yield* Effect.fork(t.connect(mute.address, { timeout: 10_000, tls: { ca: certs.ca.cert } }))
        const s = yield* mute.accept
        // the client's hello arrives
        const hello = yield* s.read
        expect(hello === Connection.EOF ? 0 : hello[0]).toBe(0x16)
        yield* Fiber.interrupt(attempt)
        const rest = yield* Effect.either(Connection.readAll(s)).pipe(Effect.timeout(Duration.seconds(3)))
        expect(rest._tag === "Left" || rest.right.length === 0).toBe(true)
      })
    ))
})
