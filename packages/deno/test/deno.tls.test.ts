/**
 * Deno-specific TLS behaviours (the shared contract is in tls.test.ts): what
 * Deno's TLS cannot do fails typed, client certificates (the servers here are
 * node:tls servers, since Deno.listenTls cannot ask for one), the rustls
 * error mapping, and how connections end.
 */
import { describe, expect, it } from "@effect/vitest"
import { Connection, Server, Tls, Transport } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { DenoTransport } from "@wirekit/deno"
import { Certs } from "@wirekit/testing"
import { Duration, Effect, Either, Queue, Schedule } from "effect"
import * as ChildProcess from "node:child_process"
import * as NodeTls from "node:tls"
import type { DenoNamespace } from "../src/deno-types.d.ts"
import { isUnexpectedEof, rustlsCode } from "../src/internal/tls.ts"

const certs = Certs.generate()
const t = DenoTransport.transport
const enc = new TextEncoder()
const dec = new TextDecoder()
const any: Address.Address = { host: "127.0.0.1", port: 0 }
const server: Tls.TlsServerOptions = { certificates: { cert: certs.server.cert, key: certs.server.key } }
const client = (extra?: Tls.TlsClientOptions): Tls.TlsClientOptions => ({
  ca: certs.ca.cert,
  serverName: "localhost",
  ...extra
})

/** A failure of a TLS option Deno cannot honour: reason Tls, a TlsError of code ENOTSUP saying why. */
const expectUnsupported = (err: Transport.ListenError | Transport.ConnectError, why: RegExp) => {
  expect(err.reason).toBe("Tls")
  expect(err.code).toBe("ENOTSUP")
  const error = Tls.errorOf(err)!
  expect(error.code).toBe("ENOTSUP")
  expect(error.detail).toMatch(why)
  expect(error.message).toMatch(why)
}

/** What a node:tls server saw of each client that reached it. */
interface Seen {
  readonly authorized: boolean
  readonly cn: string | undefined
}

/** A node:tls echo server asking for client certificates issued by the test CA (mutual TLS). */
const mutualServer = Effect.acquireRelease(
  Effect.async<{ readonly port: number; readonly seen: Queue.Queue<Seen>; readonly close: () => void }>((resume) => {
    const seen = Effect.runSync(Queue.unbounded<Seen>())
    const s = NodeTls.createServer(
      {
        cert: certs.server.cert,
        key: certs.server.key,
        ca: certs.ca.cert,
        requestCert: true,
        rejectUnauthorized: true
      },
      (socket) => {
        const cn = (socket.getPeerCertificate() as { subject?: { CN?: string } } | null)?.subject?.CN
        Queue.unsafeOffer(seen, { authorized: socket.authorized, cn })
        socket.on("data", (d) => socket.write(d))
        socket.on("end", () => socket.end())
        socket.on("error", () => {})
      }
    )
    s.on("tlsClientError", () => {})
    s.listen(
      0,
      "127.0.0.1",
      () => resume(Effect.succeed({ port: (s.address() as { port: number }).port, seen, close: () => s.close() }))
    )
  }),
  (s) => Effect.sync(s.close)
)

/** Sends `text`, ends, and returns what came back. */
const roundTrip = (c: Connection.Connection, text: string) =>
  Effect.gen(function*() {
    yield* c.write(enc.encode(text))
    yield* c.end
    return dec.decode(yield* Connection.readAll(c))
  })

/** Runs a command to completion; its exit code, stdout and stderr. */
const run = (command: string, args: ReadonlyArray<string>, input: string) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = ChildProcess.spawn(command, args as Array<string>, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (d: Uint8Array) => (stdout += dec.decode(d)))
    child.stderr!.on("data", (d: Uint8Array) => (stderr += dec.decode(d)))
    child.stdin!.on("error", () => {})
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    child.stdin!.end(input)
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeout(Duration.seconds(15)))

const eventually = (what: string, check: () => boolean) =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.orElse(() => Effect.sync(() => expect.fail(`${what} did not happen within 5 s`)))
  )

const D = (globalThis as unknown as { readonly Deno: DenoNamespace }).Deno

/** TCP_NODELAY of the socket whose local and remote ports are these, read with getsockopt through FFI. */
const noDelayOf = (localPort: number, remotePort: number): number | undefined => {
  const lib = D.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
    getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
    getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" }
  })
  try {
    const port = (f: (fd: number, a: Uint8Array, l: Uint32Array) => number, fd: number) => {
      const a = new Uint8Array(128)
      return f(fd, a, new Uint32Array([128])) === 0 ? (a[2]! << 8) | a[3]! : -1
    }
    for (const e of D.readDirSync("/proc/self/fd")) {
      const fd = Number(e.name)
      if (port(lib.symbols.getsockname, fd) !== localPort || port(lib.symbols.getpeername, fd) !== remotePort) continue
      const value = new Int32Array(1)
      lib.symbols.getsockopt(fd, 6, 1, value, new Uint32Array([4]))
      return value[0]
    }
    return undefined
  } finally {
    lib.close()
  }
}

describe("deno TLS specifics", () => {
  it.scopedLive("TLS over a Unix socket fails listen and connect typed: Deno's TLS runs over TCP only", () =>
    Effect.gen(function*() {
      const path = `/tmp/wirekit-deno-tls-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.sock`
      expectUnsupported(yield* Effect.flip(t.listen({ path }, { tls: server })), /Unix socket/)
      // a plain Unix listener is there: the TLS connect is refused before it is tried
      const plain = yield* Server.serve(yield* t.listen({ path }), Effect.void)
      expectUnsupported(yield* Effect.flip(t.connect({ path }, { timeout: 2000, tls: client() })), /Unix socket/)
      expect(plain.accepted()).toBe(0)
    }))

  it.scopedLive("an encrypted key (passphrase) fails listen and connect typed: Deno cannot load one", () =>
    Effect.gen(function*() {
      const encrypted = { cert: certs.server.cert, key: certs.server.key, passphrase: "secret" }
      expectUnsupported(yield* Effect.flip(t.listen(any, { tls: { certificates: encrypted } })), /passphrase/)
      const sni = {
        ...server.certificates as Tls.ServerCertificates,
        sni: { "alt.test": { ...certs.alt, passphrase: "secret" } }
      }
      expectUnsupported(yield* Effect.flip(t.listen(any, { tls: { certificates: sni } })), /passphrase/)
      const s = yield* Server.serve(yield* t.listen(any, { tls: server }), Effect.void)
      expectUnsupported(
        yield* Effect.flip(
          t.connect(s.address, {
            timeout: 2000,
            tls: client({ certificate: { ...certs.client, passphrase: "secret" } })
          })
        ),
        /passphrase/
      )
    }))

  it.scopedLive("an SNI certificate whose key does not match fails listen, not the first handshake that asks for it", () =>
    Effect.gen(function*() {
      const certificates = {
        cert: certs.server.cert,
        key: certs.server.key,
        sni: { "alt.test": { cert: certs.alt.cert, key: certs.client.key } }
      }
      const err = yield* Effect.flip(t.listen(any, { tls: { certificates } }))
      expect(err.reason).toBe("Tls")
      expect(Tls.errorOf(err)?.reason).toBe("BadCertificate")
      expect(err.code).toBe("RUSTLS_KEY_MISMATCH")
    }))

  it.scopedLive("a client certificate reaches a server that asks for one, verified there; connection.tls is the client's view", () =>
    Effect.gen(function*() {
      const s = yield* mutualServer
      const address = { host: "127.0.0.1", port: s.port }
      const c = yield* t.connect(address, { timeout: 5000, tls: client({ certificate: certs.client }) })
      expect(yield* roundTrip(c, "mutual")).toBe("mutual")
      expect(yield* Queue.take(s.seen)).toEqual({ authorized: true, cn: Certs.clientName })
      const info = c.tls!
      expect(info.authorized).toBe(true)
      expect(info.serverName).toBe("localhost")
      expect(info.peerCertificate?.subject.CN).toBe("localhost")
      expect(info.peerCertificate?.fingerprint256).toBe(
        yield* Effect.promise(() => Certs.fingerprint256(certs.server.cert))
      )
      // what Deno cannot tell is said plainly, not guessed
      expect(info.protocol).toBe("unknown")
      expect(info.cipher).toBe("unknown")
    }))

  it.scopedLive("with a client certificate, serverName is the name verified, not the address connected to", () =>
    Effect.gen(function*() {
      const s = yield* mutualServer
      const address = { host: "127.0.0.1", port: s.port }
      // the server's certificate lists 127.0.0.1 but not alt.test: only a check against serverName refuses it
      const err = yield* Effect.flip(
        t.connect(address, { timeout: 5000, tls: client({ certificate: certs.client, serverName: "alt.test" }) })
      )
      expect(err.reason).toBe("Tls")
      expect(Tls.errorOf(err)?.reason).toBe("HostnameMismatch")
      // without serverName, the address is what is verified
      const byIp = yield* t.connect(address, { timeout: 5000, tls: { ca: certs.ca.cert, certificate: certs.client } })
      expect(byIp.tls?.serverName).toBeUndefined()
      expect(yield* roundTrip(byIp, "by address")).toBe("by address")
    }))

  it.scopedLive("TLS 1.3: a server refusing a client without a certificate fails the client's first read with a TlsError (NoCertificate)", () =>
    Effect.gen(function*() {
      const s = yield* mutualServer
      const c = yield* t.connect({ host: "127.0.0.1", port: s.port }, { timeout: 5000, tls: client() })
      const err = yield* Effect.flip(Effect.zipRight(c.write(enc.encode("let me in")), Effect.forever(c.read)))
      expect(err._tag).toBe("ConnectionError")
      expect(err.code).toBe("RUSTLS_ALERT_CERTIFICATE_REQUIRED")
      const error = Tls.errorOf(err)!
      expect(error.reason).toBe("NoCertificate")
      expect(error.side).toBe("client")
      expect(yield* Queue.size(s.seen)).toBe(0)
    }))

  it.scopedLive("rejectUnauthorized: false skips the name check only: a wrong name connects unauthorized, an unknown CA is still refused and says why", () =>
    Effect.gen(function*() {
      const s = yield* Server.serve(yield* t.listen(any, { tls: server }), Effect.void)
      const wrongName = yield* t.connect(s.address, {
        timeout: 5000,
        tls: client({ serverName: "nowhere.test", rejectUnauthorized: false })
      })
      expect(wrongName.tls!.authorized).toBe(false)
      expect(wrongName.tls!.authorizationError).toBe("HOSTNAME_MISMATCH")
      expect(Tls.reasonOf(wrongName.tls!.authorizationError)).toBe("HostnameMismatch")
      const right = yield* t.connect(s.address, { timeout: 5000, tls: client({ rejectUnauthorized: false }) })
      expect(right.tls!.authorized).toBe(true)
      expect(right.tls!.authorizationError).toBeUndefined()
      // an IP address is checked against the certificate's IP entries
      const byIp = yield* t.connect(s.address, { timeout: 5000, tls: { ca: certs.ca.cert, rejectUnauthorized: false } })
      expect(byIp.tls!.authorized).toBe(true)

      const unknownCa = yield* Effect.flip(
        t.connect(s.address, { timeout: 5000, tls: client({ ca: certs.otherCa.cert, rejectUnauthorized: false }) })
      )
      const error = Tls.errorOf(unknownCa)!
      expect(error.reason).toBe("UnknownCa")
      expect(error.code).toBe("RUSTLS_UNKNOWN_ISSUER")
      expect(error.detail).toMatch(/always verifies the chain/)
    }))

  it.scopedLive("handshake failures carry rustls-derived codes; the server counts each by reason", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any, { tls: { ...server, alpnProtocols: ["wk/1"] } })
      const s = yield* Server.serve(l, Effect.void)
      const unknown = yield* Effect.flip(
        t.connect(s.address, { timeout: 5000, tls: client({ ca: certs.otherCa.cert }) })
      )
      expect(unknown.code).toBe("RUSTLS_UNKNOWN_ISSUER")
      yield* eventually("the unknown CA alert is counted", () => l.tls!.stats().failuresByReason.UnknownCa === 1)
      const alpn = yield* Effect.flip(
        t.connect(s.address, { timeout: 5000, tls: client({ alpnProtocols: ["other"] }) })
      )
      expect(alpn.code).toBe("RUSTLS_ALERT_NO_APPLICATION_PROTOCOL")
      expect(Tls.errorOf(alpn)?.reason).toBe("Other")
      yield* eventually("the ALPN refusal is counted", () => l.tls!.stats().failuresByReason.Other === 1)
      // a TLS 1.1 client: rustls calls it incompatible, which is a protocol version refusal
      const files = Certs.writeFiles({ ca: certs.ca.cert })
      yield* Effect.addFinalizer(() => Effect.sync(files.remove))
      const port = (s.address as Address.TcpAddress).port
      const old = yield* run("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        "-quiet",
        "-tls1_1",
        "-CAfile",
        files.paths.ca!
      ], "hi")
      expect(old.code).not.toBe(0)
      yield* eventually("the TLS 1.1 refusal is counted", () => l.tls!.stats().failuresByReason.ProtocolVersion === 1)
      expect(s.accepted()).toBe(0)
      expect(l.tls!.stats()).toMatchObject({ handshakes: 0, pending: 0, failures: 3 })
    }))

  it.scopedLive("closing a TLS listener ends the handshakes it has in progress: a silent peer's connection ends at once", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any, { tls: { ...server, handshakeTimeout: "1 minute" } })
      const silent = yield* t.connect(l.address, { timeout: 2000 })
      yield* eventually("the handshake has started", () => l.tls!.stats().pending === 1)
      yield* l.close
      const ended = yield* Effect.either(Connection.readAll(silent)).pipe(Effect.timeout(Duration.seconds(3)))
      // EOF or a reset: either way the server let go of it
      expect(Either.isRight(ended) ? dec.decode(ended.right) : ended.left.reason).toMatch(/^$|Reset/)
    }))

  it.scopedLive("a peer that closes without close_notify ends the stream (EOF) instead of failing it, as a FIN does", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any, { tls: server })
      const files = Certs.writeFiles({ ca: certs.ca.cert })
      yield* Effect.addFinalizer(() => Effect.sync(files.remove))
      const port = (l.address as Address.TcpAddress).port
      // python's SSLSocket.close() closes the TCP socket without TLS close_notify
      const script = [
        "import socket, ssl, sys",
        "ctx = ssl.create_default_context(cafile=sys.argv[1])",
        "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2]))), server_hostname='localhost')",
        "s.sendall(b'no close_notify')",
        // take the session tickets the server sends after the handshake: closing with them unread would be an RST
        "s.settimeout(0.3)",
        "try:\n  s.recv(1)\nexcept socket.timeout:\n  pass",
        "s.close()"
      ].join("\n")
      const peer = yield* Effect.fork(run("python3", ["-c", script, files.paths.ca!, String(port)], ""))
      const s = yield* l.accept
      expect(dec.decode(yield* Connection.readAll(s))).toBe("no close_notify")
      const result = yield* peer.await
      expect(result._tag).toBe("Success")
    }))

  it.scopedLive.skipIf(!DenoTransport.canReset())(
    "connections accepted by a TLS listener have TCP_NODELAY (inherited from the listening socket, set through FFI)",
    () =>
      Effect.gen(function*() {
        const l = yield* t.listen(any, { tls: server })
        const c = yield* t.connect(l.address, { timeout: 5000, tls: client() })
        const s = yield* l.accept
        const local = (s.localAddress as Address.TcpAddress).port
        const remote = (s.remoteAddress as Address.TcpAddress).port
        expect(noDelayOf(local, remote)).toBe(1)
        // the client's side (Deno.startTls over a TCP connection that had it set first) too
        expect(noDelayOf(remote, local)).toBe(1)
        yield* c.write(enc.encode("no delay"))
        const got = yield* s.read
        expect(got === Connection.EOF ? "EOF" : dec.decode(got)).toBe("no delay")
        // noDelay: false is honoured the same way
        const nagle = yield* t.listen(any, { tls: server, noDelay: false })
        yield* t.connect(nagle.address, { timeout: 5000, tls: client() })
        const n = yield* nagle.accept
        expect(noDelayOf((n.localAddress as Address.TcpAddress).port, (n.remoteAddress as Address.TcpAddress).port))
          .toBe(0)
      })
  )

  it("rustls' messages get codes and reasons (the texts Deno reports)", () => {
    const cases: ReadonlyArray<readonly [string, string | undefined, Tls.TlsErrorReason]> = [
      ["invalid peer certificate: UnknownIssuer", "RUSTLS_UNKNOWN_ISSUER", "UnknownCa"],
      [
        "invalid peer certificate: certificate not valid for name \"example.com\"; certificate is only valid for DnsName(\"localhost\")",
        "RUSTLS_NOT_VALID_FOR_NAME",
        "HostnameMismatch"
      ],
      [
        "invalid peer certificate: certificate expired: verification time 1 (UNIX), but certificate is not valid after 0",
        "RUSTLS_EXPIRED",
        "CertificateExpired"
      ],
      [
        "invalid peer certificate: certificate not valid yet: verification time 0 (UNIX), but certificate is not valid before 1",
        "RUSTLS_NOT_VALID_YET",
        "CertificateExpired"
      ],
      ["received fatal alert: UnknownCA", "RUSTLS_ALERT_UNKNOWN_CA", "UnknownCa"],
      ["received fatal alert: BadCertificate", "RUSTLS_ALERT_BAD_CERTIFICATE", "BadCertificate"],
      ["received fatal alert: CertificateRequired", "RUSTLS_ALERT_CERTIFICATE_REQUIRED", "NoCertificate"],
      ["received fatal alert: ProtocolVersion", "RUSTLS_ALERT_PROTOCOL_VERSION", "ProtocolVersion"],
      ["received fatal alert: NoApplicationProtocol", "RUSTLS_ALERT_NO_APPLICATION_PROTOCOL", "Other"],
      ["peer is incompatible: SignatureAlgorithmsExtensionRequired", "RUSTLS_PEER_INCOMPATIBLE", "ProtocolVersion"],
      ["peer sent no certificates", "RUSTLS_NO_CERTIFICATES_PRESENTED", "NoCertificate"],
      ["peer doesn't support any known protocol", "RUSTLS_NO_APPLICATION_PROTOCOL", "Other"],
      ["received corrupt message of type InvalidContentType", "RUSTLS_CORRUPT_MESSAGE", "Other"],
      ["keys may not be consistent: KeyMismatch", "RUSTLS_KEY_MISMATCH", "Other"],
      ["connection reset by peer", undefined, "Other"]
    ]
    for (const [message, code, reason] of cases) {
      expect(rustlsCode(message)).toBe(code)
      // the message alone maps too (for code that only has Deno's error)
      expect([message, Tls.reasonOf(code, message)]).toEqual([message, reason])
      if (reason !== "Other") expect([message, Tls.reasonOf(undefined, message)]).toEqual([message, reason])
    }
    expect(
      isUnexpectedEof(
        Object.assign(new Error("peer closed connection without sending TLS close_notify"), { name: "UnexpectedEof" })
      )
    ).toBe(true)
    expect(isUnexpectedEof(Object.assign(new Error("x"), { name: "ConnectionReset" }))).toBe(false)
  })

  it.scopedLive("layerTls: listens and connects speak TLS by default; makeTransport keeps the name deno", () =>
    Effect.gen(function*() {
      const svc = yield* Transport.Transport
      expect(svc.name).toBe("deno")
      const l = yield* svc.listen(any)
      expect(l.tls).toBeDefined()
      const c = yield* svc.connect(l.address, { timeout: 5000, tls: client() })
      expect(c.tls?.authorized).toBe(true)
    }).pipe(Effect.provide(DenoTransport.layerTls(Certs.tlsDefaults(certs)))))
})
