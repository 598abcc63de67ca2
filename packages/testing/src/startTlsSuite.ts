/**
 * The STARTTLS part of the TLS conformance suite (run by `TlsConformance.run`):
 * a plain connection upgraded in place, at the `Connection`, `Framed`,
 * `ProtocolServer` and `Client` levels, the plain-text injection that must
 * never be delivered, typed failures, and `openssl s_client -starttls smtp`.
 * @internal
 */
import { describe, it } from "@effect/vitest"
import type { Address as Address$ } from "@wirekit/core"
import type { ProtocolServer as ProtocolServer$ } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Client } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Framed } from "@wirekit/core"
import { Lines } from "@wirekit/core"
import { MessageCodec } from "@wirekit/core"
import { Protocol } from "@wirekit/core"
import { ProtocolServer } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { Session } from "@wirekit/core"
import { Tls } from "@wirekit/core"
import type { Layer, Scope } from "effect"
import { Deferred, Effect, Either, Fiber, Queue, Schedule } from "effect"
import { expect } from "vitest"
import * as Certs from "./Certs.ts"
import { dec, enc } from "./internal.ts"
type Address = Address$.Address
type RequestContext = ProtocolServer$.RequestContext
const Transport = Transport$.Transport
type Transport = Transport$.Transport
type TransportService = Transport$.TransportService

/** What the TLS suite hands over. */
export interface StartTlsSuiteOptions {
  readonly name: string
  readonly layer: Layer.Layer<Transport>
  readonly certs: Certs.TestCertificates
  readonly openssl: string
  /** Why the transport cannot upgrade a connection, when it cannot: the suite then checks the typed refusal. */
  readonly unsupported: string | undefined
  /** Whether `connection.tls` tells the protocol version and cipher. */
  readonly sessionDetails: boolean
}

/** Reads until the text read so far ends with `end` (the peer sends nothing after it); the text. */
export const readUntil = (conn: Connection.Connection, end: string) =>
  Effect.gen(function*() {
    let text = ""
    while (!text.endsWith(end)) {
      const chunk = yield* conn.read
      if (chunk === Connection.EOF) {
        return yield* Effect.fail(new Error(`EOF before ${JSON.stringify(end)}; got ${JSON.stringify(text)}`))
      }
      text += dec.decode(chunk)
    }
    return text
  })

/** Reads until `n` CRLF-terminated lines have arrived (the peer sends nothing after them). */
const readUntilLines = (conn: Connection.Connection, n: number) =>
  Effect.gen(function*() {
    let text = ""
    while (text.split("\r\n").length - 1 < n) {
      const chunk = yield* conn.read
      if (chunk === Connection.EOF) return yield* Effect.fail(new Error(`EOF after ${JSON.stringify(text)}`))
      text += dec.decode(chunk)
    }
    return text
  })

/** Waits (up to 5 s) until `check` holds. */
const eventually = (what: string, check: () => boolean) =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail(what))).pipe(
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds"))),
    Effect.orElse(() => Effect.sync(() => expect.fail(`${what} did not happen within 5 s`)))
  )

/** A line protocol: `STARTTLS` is answered `OK` and upgrades; any other line `<line> tls=<yes|no>`. */
const LineProtocol = Protocol.make({
  name: "starttls-lines",
  framing: Lines.make(),
  inbound: MessageCodec.text(),
  outbound: MessageCodec.text()
})

/**
 * A tiny SMTP-like server's protocol (enough for `openssl s_client -starttls
 * smtp`): a `220` greeting, `EHLO` offering STARTTLS, `STARTTLS`, `NOOP`
 * telling the session, `QUIT`.
 */
const Smtp = Protocol.make({
  name: "smtp-like",
  framing: Lines.make(),
  inbound: MessageCodec.text(),
  outbound: MessageCodec.text()
})

/** Registers the STARTTLS tests. */
export const run = (options: StartTlsSuiteOptions): void => {
  const { certs } = options
  const any: Address = { host: "127.0.0.1", port: 0 }
  const withT = <A, E>(f: (t: TransportService) => Effect.Effect<A, E, Scope.Scope | Transport>) =>
    Effect.provide(Effect.flatMap(Transport, f), options.layer)
  const serverTls = (extra?: Omit<Tls.TlsServerOptions, "certificates">): Tls.TlsServerOptions => ({
    certificates: { cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert },
    ...extra
  })
  const clientTls = (extra?: Tls.TlsClientOptions): Tls.TlsClientOptions => ({
    ca: certs.ca.cert,
    serverName: "localhost",
    ...extra
  })

  /**
   * A server that reads plain text until `STARTTLS\r\n`, answers `OK\r\n`,
   * upgrades, then echoes through TLS. Each connection's upgrade outcome (and
   * the connection) goes to `outcomes`. `wait` makes it wait until that many
   * bytes have arrived before it reads anything.
   */
  const upgradingServer = (
    t: TransportService,
    tls: Tls.TlsServerOptions,
    wait?: number
  ) =>
    Effect.gen(function*() {
      const outcomes = yield* Queue.unbounded<
        {
          readonly conn: Connection.Connection
          readonly outcome: Either.Either<Tls.TlsInfo, Tls.TlsError | Connection.ConnectionError>
        }
      >()
      const handler = Effect.gen(function*() {
        const conn = yield* Connection.Connection
        if (wait !== undefined) {
          yield* eventually("the plain-text bytes arrive", () => conn.unsafeStats().bytesRead >= wait)
        } else yield* readUntil(conn, "STARTTLS\r\n")
        yield* conn.write(enc.encode("OK\r\n"))
        const outcome = yield* Effect.either(conn.startTls({ server: tls }))
        yield* Queue.offer(outcomes, { conn, outcome })
        if (outcome._tag === "Left") return
        while (true) {
          const chunks = yield* conn.readMany
          if (chunks === Connection.EOF) return
          yield* conn.writeAll(chunks)
        }
      })
      const s = yield* Server.serve(yield* t.listen(any), handler)
      return { server: s, outcomes }
    })

  /** Connects in plain text, asks for STARTTLS and upgrades as the client. */
  const upgradingClient = (t: TransportService, address: Address, tls: Tls.TlsClientOptions, first = "STARTTLS\r\n") =>
    Effect.gen(function*() {
      const c = yield* t.connect(address, { timeout: 5000 })
      yield* c.write(enc.encode(first))
      expect(yield* readUntil(c, "OK\r\n")).toBe("OK\r\n")
      const outcome = yield* Effect.either(c.startTls({ client: tls }))
      return { c, outcome }
    })

  /** Sends `text`, ends, and returns what came back. */
  const roundTrip = (c: Connection.Connection, text: string) =>
    Effect.gen(function*() {
      yield* c.write(enc.encode(text))
      yield* c.end
      return dec.decode(yield* Connection.readAll(c))
    })

  describe("STARTTLS", () => {
    if (options.unsupported !== undefined) {
      it.scopedLive(`unsupported: startTls fails typed (ENOTSUP) and leaves the connection as it was (${options.unsupported})`, () =>
        withT((t) =>
          Effect.gen(function*() {
            const refused = yield* Deferred.make<Tls.TlsError | Connection.ConnectionError>()
            const s = yield* Server.serve(
              yield* t.listen(any),
              Effect.gen(function*() {
                const conn = yield* Connection.Connection
                yield* Deferred.succeed(refused, yield* Effect.flip(conn.startTls({ server: serverTls() })))
                // still a working plain connection
                while (true) {
                  const chunks = yield* conn.readMany
                  if (chunks === Connection.EOF) return
                  yield* conn.writeAll(chunks)
                }
              })
            )
            const c = yield* t.connect(s.address, { timeout: 5000 })
            const error = yield* Effect.flip(c.startTls({ client: clientTls() }))
            expect(error._tag).toBe("TlsError")
            expect((error as Tls.TlsError).code).toBe("ENOTSUP")
            expect((error as Tls.TlsError).side).toBe("client")
            const serverError = yield* Deferred.await(refused)
            expect(serverError._tag).toBe("TlsError")
            expect((serverError as Tls.TlsError).code).toBe("ENOTSUP")
            expect((serverError as Tls.TlsError).side).toBe("server")
            expect(c.tls).toBeUndefined()
            expect(yield* roundTrip(c, "still plain")).toBe("still plain")
          })
        ))

      it.scopedLive(`unsupported: Session.startTls fails typed (ENOTSUP), so a handler can answer "not available" and go on in plain text (${options.unsupported})`, () =>
        withT((t) =>
          Effect.gen(function*() {
            const handler = (line: string, { session }: RequestContext) =>
              line === "STARTTLS"
                ? Effect.match(session.startTls(serverTls()), {
                  onFailure: (e) => `454 ${e.code}`,
                  onSuccess: () => "220 go ahead"
                })
                : Effect.succeed(`${line} tls=${session.connection.tls === undefined ? "no" : "yes"}`)
            const s = yield* ProtocolServer.serve(LineProtocol, handler)
            const c = yield* t.connect(s.address, { timeout: 5000 })
            yield* c.write(enc.encode("STARTTLS\r\nPING\r\n"))
            expect((yield* readUntilLines(c, 2)).split("\r\n").slice(0, 2)).toEqual(["454 ENOTSUP", "PING tls=no"])
          })
        ))
      return
    }

    it.scopedLive("a plain connection upgraded on both sides: connection.tls appears on the same Connection, bytes then go through TLS", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, outcomes } = yield* upgradingServer(t, serverTls())
          const { c, outcome } = yield* upgradingClient(t, s.address, clientTls())
          expect(outcome._tag).toBe("Right")
          const info = Either.getOrThrow(outcome)
          expect(c.tls).toBe(info)
          expect(info.authorized).toBe(true)
          expect(info.serverName).toBe("localhost")
          expect(info.peerCertificate!.subject.CN).toBe("localhost")
          if (options.sessionDetails) expect(info.protocol).toMatch(/^TLSv1\.[23]$/)
          const served = yield* Queue.take(outcomes)
          expect(served.outcome._tag).toBe("Right")
          expect(served.conn.tls).toBe(Either.getOrThrow(served.outcome))
          // no client certificate was asked for
          expect(served.conn.tls!.peerCertificate).toBeUndefined()
          if (options.sessionDetails) expect(served.conn.tls!.protocol).toBe(info.protocol)
          expect(served.conn.unsafeStats().discardedOnUpgrade).toBe(0)
          const big = "x".repeat(200_000)
          expect(yield* roundTrip(c, `over TLS ${big}`)).toBe(`over TLS ${big}`)
          // the plain-text part was 10 bytes each way: everything after it was TLS records, larger than the text
          expect(c.unsafeStats().bytesRead).toBeGreaterThan(200_000)
        })
      ))

    it.scopedLive("bytes sent in plain text after the upgrade command are discarded (counted), never delivered as if they came over TLS", () =>
      withT((t) =>
        Effect.gen(function*() {
          const injected = "STARTTLS\r\nINJECTED\r\n"
          // the server reads nothing until the whole write has arrived: all of it is buffered when it upgrades
          const { server: s, outcomes } = yield* upgradingServer(t, serverTls(), injected.length)
          const { c, outcome } = yield* upgradingClient(t, s.address, clientTls(), injected)
          expect(outcome._tag).toBe("Right")
          const served = yield* Queue.take(outcomes)
          expect(served.outcome._tag).toBe("Right")
          expect(served.conn.unsafeStats().discardedOnUpgrade).toBe(injected.length)
          // the echo returns only what came over TLS
          expect(yield* roundTrip(c, "hello")).toBe("hello")
        })
      ))

    it.scopedLive("a failed handshake after STARTTLS is typed on both sides and closes only that connection", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, outcomes } = yield* upgradingServer(t, serverTls())
          // a client that trusts another CA refuses the server's certificate
          const { c, outcome } = yield* upgradingClient(t, s.address, {
            ca: certs.otherCa.cert,
            serverName: "localhost"
          })
          expect(outcome._tag).toBe("Left")
          const error = Either.getLeft(outcome).pipe((o) => o._tag === "Some" ? o.value : undefined)!
          expect(error._tag).toBe("TlsError")
          expect((error as Tls.TlsError).reason).toBe("UnknownCa")
          expect((error as Tls.TlsError).side).toBe("client")
          expect(c.tls).toBeUndefined()
          // the connection is reset: reads and writes fail, carrying the TlsError
          const readFailure = yield* Effect.flip(c.read)
          expect(Tls.errorOf(readFailure)?.reason).toBe("UnknownCa")
          const served = yield* Queue.take(outcomes)
          expect(served.outcome._tag).toBe("Left")
          const serverError = Either.getLeft(served.outcome).pipe((o) => o._tag === "Some" ? o.value : undefined)!
          // typed on the server too: the client's verdict when it sends an alert, else the connection it dropped
          expect(serverError._tag).toBe("TlsError")
          expect((serverError as Tls.TlsError).side).toBe("server")
          expect(served.conn.tls).toBeUndefined()
          yield* served.conn.closed
          // the server goes on: the next client upgrades
          const next = yield* upgradingClient(t, s.address, clientTls())
          expect(next.outcome._tag).toBe("Right")
          expect(yield* roundTrip(next.c, "next")).toBe("next")
        })
      ))

    it.scopedLive("the handshake timeout bounds the upgrade: a peer that never starts its handshake fails it typed (HandshakeTimeout)", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, outcomes } = yield* upgradingServer(t, serverTls({ handshakeTimeout: "300 millis" }))
          const c = yield* t.connect(s.address, { timeout: 5000 })
          yield* c.write(enc.encode("STARTTLS\r\n"))
          expect(yield* readUntil(c, "OK\r\n")).toBe("OK\r\n")
          const served = yield* Queue.take(outcomes)
          const error = Either.getLeft(served.outcome).pipe((o) => o._tag === "Some" ? o.value : undefined)!
          expect(error._tag).toBe("TlsError")
          expect((error as Tls.TlsError).reason).toBe("HandshakeTimeout")
          expect((error as Tls.TlsError).timeout).toBe(300)
          // the server closed the connection
          const end = yield* Effect.either(c.read)
          expect(end._tag === "Left" || end.right === Connection.EOF).toBe(true)
        })
      ))

    it.scopedLive("startTls on a connection that is already TLS fails (EALREADY); on a closed one, ConnectionError Closed", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s } = yield* upgradingServer(t, serverTls())
          const { c } = yield* upgradingClient(t, s.address, clientTls())
          const again = yield* Effect.flip(c.startTls({ client: clientTls() }))
          expect(again._tag).toBe("TlsError")
          expect((again as Tls.TlsError).code).toBe("EALREADY")
          expect(yield* roundTrip(c, "unchanged")).toBe("unchanged")
          const plain = yield* t.connect(s.address, { timeout: 5000 })
          yield* plain.close
          const closed = yield* Effect.flip(plain.startTls({ client: clientTls() }))
          expect(closed._tag).toBe("ConnectionError")
          expect((closed as Connection.ConnectionError).reason).toBe("Closed")
        })
      ))

    it.scopedLive("writes made during the handshake wait, then go out through TLS in order", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server: s, outcomes } = yield* upgradingServer(t, serverTls())
          const c = yield* t.connect(s.address, { timeout: 5000 })
          yield* c.write(enc.encode("STARTTLS\r\n"))
          yield* readUntil(c, "OK\r\n")
          const upgrading = yield* Effect.fork(c.startTls({ client: clientTls() }))
          // written while the handshake runs: held, then sent through TLS
          const writer = yield* Effect.fork(
            Effect.zipRight(c.write(enc.encode("early ")), c.write(enc.encode("bytes")))
          )
          const info = yield* Fiber.join(upgrading)
          yield* Fiber.join(writer)
          expect(info.authorized).toBe(true)
          yield* c.end
          expect(dec.decode(yield* Connection.readAll(c))).toBe("early bytes")
          expect((yield* Queue.take(outcomes)).outcome._tag).toBe("Right")
        })
      ))

    it.scopedLive("Framed: pending items and a partial one are discarded at the upgrade, decoding goes on fresh through TLS", () =>
      withT((t) =>
        Effect.gen(function*() {
          const seen = yield* Queue.unbounded<string>()
          const handler = Effect.gen(function*() {
            const framed = Framed.make(yield* Connection.Connection, Lines.make())
            while (true) {
              const line = yield* framed.read
              if (line === Connection.EOF) return
              const text = dec.decode(line)
              yield* Queue.offer(seen, text)
              if (text === "STARTTLS") {
                framed.unsafeSend(enc.encode("OK"))
                yield* framed.startTls({ server: serverTls() })
              } else {
                yield* framed.send(enc.encode(`echo ${text}`))
              }
            }
          })
          const s = yield* Server.serve(yield* t.listen(any), handler)
          // one plain write: a command, the upgrade, an injected line and half of another
          const c = yield* t.connect(s.address, { timeout: 5000 })
          yield* c.write(enc.encode("HELLO\r\nSTARTTLS\r\nINJECTED\r\nHALF"))
          expect(yield* readUntil(c, "OK\r\n")).toBe("echo HELLO\r\nOK\r\n")
          yield* c.startTls({ client: clientTls() })
          expect(yield* roundTrip(c, "LINE\r\n")).toBe("echo LINE\r\n")
          expect(yield* Queue.takeAll(seen).pipe(Effect.map((all) => [...all]))).toEqual(["HELLO", "STARTTLS", "LINE"])
        })
      ))

    it.scopedLive("Framed.pump: the callback returns framed.startTls; the rest of the batch, handed over in slices, is never delivered", () =>
      withT((t) =>
        Effect.gen(function*() {
          const seen: Array<string> = []
          const handler = Effect.gen(function*() {
            const framed = Framed.make(yield* Connection.Connection, Lines.make(), { maxDeliver: 2 })
            yield* framed.pump((lines) => {
              for (const line of lines) {
                const text = dec.decode(line)
                seen.push(text)
                if (text === "STARTTLS") {
                  framed.unsafeSend(enc.encode("OK"))
                  return Effect.asVoid(Effect.orDie(framed.startTls({ server: serverTls() })))
                }
                framed.unsafeSend(enc.encode(`echo ${text}`))
              }
            })
          })
          const s = yield* Server.serve(yield* t.listen(any), handler)
          const c = yield* t.connect(s.address, { timeout: 5000 })
          // slices of two: [A, STARTTLS], [B, C], [D]
          yield* c.write(enc.encode("A\r\nSTARTTLS\r\nB\r\nC\r\nD\r\n"))
          expect(yield* readUntil(c, "OK\r\n")).toBe("echo A\r\nOK\r\n")
          yield* c.startTls({ client: clientTls() })
          expect(yield* roundTrip(c, "E\r\n")).toBe("echo E\r\n")
          expect(seen).toEqual(["A", "STARTTLS", "E"])
        })
      ))

    describe("ProtocolServer: Session.startTls", () => {
      /**
       * Serves the line protocol; every line a handler sees is recorded.
       * `SLOW` is answered after a while, `LATE` asks for TLS after waiting,
       * `TWICE` asks twice (the second is refused), `TLS?` tells the session.
       */
      const lineServer = (tls: Tls.TlsServerOptions = serverTls()) =>
        Effect.gen(function*() {
          const seen: Array<string> = []
          /** `ok` when the upgrade is scheduled, else the refusal's code. */
          const upgrade = (session: RequestContext["session"], ok: string) =>
            Effect.match(session.startTls(tls), { onFailure: (e) => `REFUSED ${e.code}`, onSuccess: () => ok })
          const handler = (line: string, { session }: RequestContext) => {
            seen.push(line)
            switch (line) {
              case "STARTTLS":
                return upgrade(session, "OK")
              case "TWICE":
                return Effect.zipRight(upgrade(session, "OK"), upgrade(session, "NOT REFUSED"))
              case "LATE":
                return Effect.zipRight(Effect.sleep("5 millis"), upgrade(session, "NOT REFUSED"))
              case "SLOW":
                return Effect.as(Effect.sleep("50 millis"), "SLOW done")
              default:
                return Effect.succeed(`${line} tls=${session.connection.tls === undefined ? "no" : "yes"}`)
            }
          }
          const s = yield* ProtocolServer.serve(LineProtocol, handler)
          return { server: s, seen }
        })

      /** The next `n` lines the server sends (the peer sends nothing meanwhile). */
      const lines = (c: Connection.Connection, n: number) =>
        Effect.map(readUntilLines(c, n), (text) => text.split("\r\n").slice(0, n))

      it.scopedLive("the reply goes out in plain text, then the session reads and answers through TLS; connection.tls tells it", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s, seen } = yield* lineServer()
            const c = yield* (yield* Transport).connect(s.address, { timeout: 5000 })
            yield* c.write(enc.encode("PING\r\nSTARTTLS\r\n"))
            expect(yield* lines(c, 2)).toEqual(["PING tls=no", "OK"])
            const info = yield* c.startTls({ client: clientTls() })
            expect(info.peerCertificate!.subject.CN).toBe("localhost")
            yield* c.write(enc.encode("PING\r\n"))
            expect(yield* lines(c, 1)).toEqual(["PING tls=yes"])
            const session = s.sessions()[0]!
            expect(session.connection.tls).toBeDefined()
            expect(session.connection.tls!.serverName).toBe(
              options.sessionDetails ? "localhost" : session.connection.tls!.serverName
            )
            expect(seen).toEqual(["PING", "STARTTLS", "PING"])
          })
        ))

      it.scopedLive("injection: \"STARTTLS\\r\\nINJECTED\\r\\n\" in one write: INJECTED is never handled, the session goes on through TLS", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s, seen } = yield* lineServer()
            const c = yield* (yield* Transport).connect(s.address, { timeout: 5000 })
            yield* c.write(enc.encode("STARTTLS\r\nINJECTED\r\nHALF A LI"))
            expect(yield* lines(c, 1)).toEqual(["OK"])
            yield* c.startTls({ client: clientTls() })
            yield* c.write(enc.encode("PING\r\n"))
            expect(yield* lines(c, 1)).toEqual(["PING tls=yes"])
            expect(seen).toEqual(["STARTTLS", "PING"])
          })
        ))

      it.scopedLive("requests before the upgrade command are answered first, in order, in plain text; the handshake starts after", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s, seen } = yield* lineServer()
            const c = yield* (yield* Transport).connect(s.address, { timeout: 5000 })
            yield* c.write(enc.encode("SLOW\r\nSTARTTLS\r\n"))
            expect(yield* lines(c, 2)).toEqual(["SLOW done", "OK"])
            yield* c.startTls({ client: clientTls() })
            yield* c.write(enc.encode("PING\r\n"))
            expect(yield* lines(c, 1)).toEqual(["PING tls=yes"])
            expect(seen).toEqual(["SLOW", "STARTTLS", "PING"])
          })
        ))

      it.scopedLive("Session.startTls refuses typed: after the handler waited (EINVAL), a second time (EALREADY)", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s } = yield* lineServer()
            const c = yield* (yield* Transport).connect(s.address, { timeout: 5000 })
            yield* c.write(enc.encode("LATE\r\nPING\r\n"))
            // nothing changed: the connection stays plain
            expect(yield* lines(c, 2)).toEqual(["REFUSED EINVAL", "PING tls=no"])
            yield* c.write(enc.encode("TWICE\r\n"))
            expect(yield* lines(c, 1)).toEqual(["REFUSED EALREADY"])
            yield* c.startTls({ client: clientTls() })
            yield* c.write(enc.encode("PING\r\n"))
            expect(yield* lines(c, 1)).toEqual(["PING tls=yes"])
          })
        ))

      it.scopedLive("a failed handshake after STARTTLS closes only that session; the server serves the next one", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s } = yield* lineServer()
            const t = yield* Transport
            const bad = yield* t.connect(s.address, { timeout: 5000 })
            yield* bad.write(enc.encode("STARTTLS\r\n"))
            expect(yield* lines(bad, 1)).toEqual(["OK"])
            const error = yield* Effect.flip(
              bad.startTls({ client: { ca: certs.otherCa.cert, serverName: "localhost" } })
            )
            expect(Tls.errorOf(error)?.reason).toBe("UnknownCa")
            yield* eventually("the failed session is closed", () => s.sessions().length === 0)
            const good = yield* t.connect(s.address, { timeout: 5000 })
            yield* good.write(enc.encode("STARTTLS\r\n"))
            expect(yield* lines(good, 1)).toEqual(["OK"])
            yield* good.startTls({ client: clientTls() })
            yield* good.write(enc.encode("PING\r\n"))
            expect(yield* lines(good, 1)).toEqual(["PING tls=yes"])
          })
        ))

      it.scopedLive("Client: onConnect runs the STARTTLS exchange on each new connection; requests then go through TLS", () =>
        withT(() =>
          Effect.gen(function*() {
            const { server: s, seen } = yield* lineServer()
            const starttls = (tls: Tls.TlsClientOptions) => (connection: Connection.Connection) =>
              Effect.gen(function*() {
                const framed = Framed.make(connection, Lines.make())
                yield* framed.send(enc.encode("STARTTLS"))
                const reply = yield* framed.read
                if (reply === Connection.EOF || dec.decode(reply) !== "OK") {
                  return yield* Effect.fail(new Error("no STARTTLS"))
                }
                yield* framed.startTls({ client: tls })
              })
            const client = yield* Client.make(LineProtocol, s.address, { onConnect: starttls(clientTls()) })
            expect(yield* client.request("PING")).toBe("PING tls=yes")
            expect(seen).toEqual(["STARTTLS", "PING"])
            // a refused certificate fails the connect, typed
            const refused = yield* Effect.flip(
              Client.make(LineProtocol, s.address, {
                onConnect: starttls({ ca: certs.otherCa.cert, serverName: "localhost" })
              })
            )
            expect(refused.reason).toBe("Connect")
            expect((refused.cause as { readonly reason?: string }).reason).toBe("Tls")
            expect(Tls.errorOf(refused)?.reason).toBe("UnknownCa")
          })
        ))

      it.scopedLive("openssl s_client -starttls smtp upgrades a tiny SMTP-like server built on ProtocolServer and talks to it through TLS", () =>
        withT(() =>
          Effect.gen(function*() {
            const handler = (line: string, { session }: RequestContext) => {
              const verb = line.split(" ")[0]!.toUpperCase()
              const tls = session.connection.tls
              switch (verb) {
                case "EHLO":
                  return Effect.succeed(tls === undefined ? "250 STARTTLS" : "250 wirekit")
                case "STARTTLS":
                  return Effect.match(session.startTls(serverTls()), {
                    onFailure: (e) => `454 TLS not available (${e.code})`,
                    onSuccess: () => "220 Ready to start TLS"
                  })
                case "NOOP":
                  return Effect.succeed(
                    tls === undefined ? "250 OK plain" : `250 OK over TLS, name ${tls.serverName ?? "-"}`
                  )
                case "QUIT":
                  return Effect.sync(() => {
                    session.unsafeClose()
                    return "221 Bye"
                  })
                default:
                  return Effect.succeed("500 unknown command")
              }
            }
            const greeting = Effect.flatMap(Session.Session, (session) =>
              Effect.ignore(session.connection.write(enc.encode("220 wirekit ESMTP\r\n"))))
            const s = yield* ProtocolServer.serve(Smtp, handler, { connection: [greeting] })
            const port = (s.address as { readonly port: number }).port
            const files = Certs.writeFiles({ ca: certs.ca.cert })
            yield* Effect.addFinalizer(() =>
              Effect.sync(files.remove)
            )
            const args = [
              "s_client",
              "-connect",
              `127.0.0.1:${port}`,
              "-starttls",
              "smtp",
              "-servername",
              "localhost",
              "-CAfile",
              files.paths.ca!,
              "-verify_return_error",
              "-quiet"
            ]
            const result = yield* runProcess(options.openssl, args, "NOOP\r\nQUIT\r\n")
            expect(result.code).toBe(0)
            // -quiet prints what came after the handshake only: the answers were sent through TLS
            expect(result.stdout).toBe(
              `250 OK over TLS, name ${options.sessionDetails ? "localhost" : "-"}\r\n221 Bye\r\n`
            )
          })
        ))
    })
  })
}

/** Runs `command` with `input` on its stdin (up to 15 s); its exit code and output. */
const runProcess = (command: string, args: ReadonlyArray<string>, input: string) =>
  Effect.gen(function*() {
    const cp = yield* Effect.promise(() => import("node:child_process"))
    return yield* Effect.async<
      { readonly code: number | null; readonly stdout: string; readonly stderr: string },
      Error
    >((resume) => {
      const child = cp.spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] })
      let stdout = ""
      let stderr = ""
      child.stdout!.on("data", (d: Uint8Array) => (stdout += dec.decode(d)))
      child.stderr!.on("data", (d: Uint8Array) => (stderr += dec.decode(d)))
      child.stdin!.on("error", () => {})
      child.on("error", (e) => resume(Effect.fail(e)))
      child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
      child.stdin!.end(input)
      return Effect.sync(() => child.kill("SIGKILL"))
    }).pipe(
      Effect.timeoutFail({
        duration: "15 seconds",
        onTimeout: () => new Error(`${command} did not finish within 15 s`)
      })
    )
  })
