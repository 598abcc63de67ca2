import { describe, expect, it } from "@effect/vitest"
import { Connection, Driver, MemoryTransport, Tls } from "@wirekit/core"
import { Effect, Fiber, TestClock } from "effect"
import * as Certs from "../../testing/src/Certs.ts"
import * as StartTlsSuite from "../../testing/src/startTlsSuite.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()

const info: Tls.TlsInfo = {
  protocol: "TLSv1.3",
  cipher: "TLS_AES_128_GCM_SHA256",
  alpnProtocol: undefined,
  serverName: "localhost",
  authorized: true,
  authorizationError: undefined,
  peerCertificate: undefined
}

const serverSide: Tls.StartTlsOptions = {
  server: { certificates: { cert: "", key: "" }, handshakeTimeout: "1 second" }
}

/**
 * A connection on a scripted socket: what the core asks of its drivers is
 * recorded, `unsent` is what the plain socket has not sent yet, and the
 * handshake ends when the test calls `finish`.
 */
const scripted = () => {
  const calls: Array<string> = []
  const written: Array<string> = []
  let events!: Driver.SocketEvents
  let unsent = 0
  let finish: ((outcome: Tls.TlsInfo | Tls.TlsError) => void) | undefined
  const driver = (name: string, upgradable: boolean): Driver.SocketDriver => ({
    write: (data) => {
      written.push(`${name}:${dec.decode(data)}`)
      return true
    },
    writev: (chunks) => {
      for (const c of chunks) written.push(`${name}:${dec.decode(c)}`)
      return true
    },
    pause: () => calls.push(`${name}.pause`),
    resume: () => calls.push(`${name}.resume`),
    end: (done) => {
      calls.push(`${name}.end`)
      done()
    },
    destroy: () => {
      calls.push(`${name}.destroy`)
      events.closedByRuntime()
    },
    reset: () => {
      calls.push(`${name}.reset`)
      events.closedByRuntime()
    },
    writeBuffered: () => (name === "plain" ? unsent : 0),
    ...(upgradable
      ? {
        startTls: (_options: Tls.StartTlsOptions, done: (outcome: Tls.TlsInfo | Tls.TlsError) => void) => {
          calls.push(`${name}.startTls`)
          finish = done
          return driver("tls", false)
        }
      }
      : {})
  })
  const make = (upgradable = true) => {
    const conn = Driver.makeConnection(
      { localAddress: { host: "127.0.0.1", port: 1 }, remoteAddress: { host: "127.0.0.1", port: 2 } },
      (e) => {
        events = e
        return driver("plain", upgradable)
      }
    )
    return {
      conn,
      calls,
      written,
      data: (text: string) => events.data(enc.encode(text)),
      events: () => events,
      setUnsent: (n: number) => {
        unsent = n
      },
      finish: (outcome: Tls.TlsInfo | Tls.TlsError) => finish!(outcome),
      started: () => finish !== undefined
    }
  }
  return make
}

/** Lets timers of a few milliseconds fire (the flush wait polls on real timers). */
const settle = Effect.promise(() => new Promise((r) => setTimeout(r, 30)))

describe("Connection.startTls (the core's part, on a scripted socket)", () => {
  it.live("bytes received and not read, and bytes reported before the handshake starts, are discarded and counted; the TLS stream's bytes are read", () =>
    Effect.gen(function*() {
      const s = scripted()()
      s.data("STARTTLS\r\nINJECTED\r\n")
      // the last plain-text reply is still being sent: the handshake waits for it
      s.setUnsent(4)
      const upgrading = yield* Effect.fork(s.conn.startTls(serverSide))
      yield* Effect.yieldNow()
      expect(s.calls).toEqual(["plain.pause"])
      s.data("MORE\r\n")
      expect(s.started()).toBe(false)
      s.setUnsent(0)
      yield* settle
      expect(s.calls).toEqual(["plain.pause", "plain.startTls"])
      expect(s.conn.tls).toBeUndefined()
      s.finish(info)
      expect(yield* Fiber.join(upgrading)).toBe(info)
      expect(s.conn.tls).toBe(info)
      expect(s.calls).toEqual(["plain.pause", "plain.startTls", "tls.resume"])
      expect(s.conn.unsafeStats().discardedOnUpgrade).toBe("STARTTLS\r\nINJECTED\r\nMORE\r\n".length)
      s.data("over tls")
      const chunk = yield* s.conn.read
      expect(chunk === Connection.EOF ? "EOF" : dec.decode(chunk)).toBe("over tls")
    }))

  it.live("writes made during the upgrade are held, then handed to the TLS driver in order; an end waits for them", () =>
    Effect.gen(function*() {
      const s = scripted()()
      yield* s.conn.write(enc.encode("220 go ahead"))
      const upgrading = yield* Effect.fork(s.conn.startTls(serverSide))
      yield* Effect.yieldNow()
      // taken, but over the high-water mark: the writer is told to wait
      expect(s.conn.unsafeWriteAll([enc.encode("a"), enc.encode("b")])).toBe(false)
      const writer = yield* Effect.fork(s.conn.write(enc.encode("c")))
      yield* Effect.yieldNow()
      const ender = yield* Effect.fork(s.conn.end)
      yield* settle
      expect(s.written).toEqual(["plain:220 go ahead"])
      // the held bytes count as unsent
      expect(s.conn.unsafeWriteBuffered()).toBe(3)
      expect(s.calls.filter((c) => c.endsWith(".end"))).toEqual([])
      s.finish(info)
      yield* Fiber.join(upgrading)
      yield* Fiber.join(writer)
      yield* Fiber.join(ender)
      expect(s.written).toEqual(["plain:220 go ahead", "tls:a", "tls:b", "tls:c"])
      expect(s.calls.filter((c) => c.endsWith(".end"))).toEqual(["tls.end"])
    }))

  it.live("a failed handshake fails typed, resets the connection, and reads fail with the TlsError as cause", () =>
    Effect.gen(function*() {
      const s = scripted()()
      const upgrading = yield* Effect.fork(s.conn.startTls(serverSide))
      yield* settle
      const refused = new Tls.TlsError({ reason: "UnknownCa", side: "server", code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA" })
      s.finish(refused)
      expect(yield* Effect.flip(Fiber.join(upgrading))).toBe(refused)
      expect(s.calls).toContain("tls.reset")
      expect(s.conn.tls).toBeUndefined()
      const readError = yield* Effect.flip(s.conn.read)
      expect(Tls.errorOf(readError)).toBe(refused)
      const writeError = yield* Effect.flip(s.conn.write(enc.encode("x")))
      expect(writeError._tag).toBe("ConnectionError")
    }))

  it.effect("the handshake timeout (on the Clock) fails the upgrade with HandshakeTimeout and resets the connection", () =>
    Effect.gen(function*() {
      const s = scripted()()
      const upgrading = yield* Effect.fork(s.conn.startTls(serverSide))
      yield* Effect.yieldNow()
      expect(s.started()).toBe(true)
      yield* TestClock.adjust("999 millis")
      expect(s.calls).not.toContain("tls.reset")
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(upgrading))
      expect(error._tag).toBe("TlsError")
      expect((error as Tls.TlsError).reason).toBe("HandshakeTimeout")
      expect((error as Tls.TlsError).timeout).toBe(1000)
      expect(s.calls).toContain("tls.reset")
      // a late outcome changes nothing
      s.finish(info)
      expect(s.conn.tls).toBeUndefined()
    }))

  it.live("a peer that ends its side before the handshake fails the upgrade (nothing is left to read the handshake from)", () =>
    Effect.gen(function*() {
      const s = scripted()()
      s.setUnsent(1)
      const upgrading = yield* Effect.fork(s.conn.startTls({ client: { handshakeTimeout: "1 second" } }))
      yield* Effect.yieldNow()
      s.events().readEnd()
      s.setUnsent(0)
      const error = yield* Effect.flip(Fiber.join(upgrading))
      expect(error._tag).toBe("TlsError")
      expect((error as Tls.TlsError).side).toBe("client")
      expect(s.started()).toBe(false)
      expect(s.calls).toContain("plain.reset")
    }))

  it.live("a transport without the hook refuses typed (ENOTSUP) and changes nothing: buffered bytes are still there", () =>
    Effect.gen(function*() {
      const s = scripted()(false)
      s.data("kept")
      const error = yield* Effect.flip(s.conn.startTls(serverSide))
      expect(error._tag).toBe("TlsError")
      expect((error as Tls.TlsError).code).toBe("ENOTSUP")
      expect((error as Tls.TlsError).side).toBe("server")
      expect(s.calls).toEqual([])
      const chunk = yield* s.conn.read
      expect(chunk === Connection.EOF ? "EOF" : dec.decode(chunk)).toBe("kept")
      expect(s.conn.unsafeStats().discardedOnUpgrade).toBe(0)
    }))
})

// the in-memory network has no TLS: the shared STARTTLS tests check its typed refusal
StartTlsSuite.run({
  name: "memory",
  layer: MemoryTransport.layer(),
  certs: Certs.generate(),
  openssl: "openssl",
  unsupported: "the in-memory network has no TLS",
  sessionDetails: false
})
