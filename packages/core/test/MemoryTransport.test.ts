import { describe, expect, it } from "@effect/vitest"
import { Connection, MemoryTransport, Tls, Transport } from "@wirekit/core"
import { Effect, Fiber } from "effect"

const enc = new TextEncoder()

/** Sends `text` from a client, ends, and runs `consume` on the accepted side. */
const exchange = <A>(
  text: string,
  consume: (conn: Connection.Connection) => Effect.Effect<A, Connection.ConnectionError>
) =>
  Effect.gen(function*() {
    const t = yield* Transport.Transport
    const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
    const c = yield* t.connect(l.address)
    const s = yield* l.accept
    // the consumer is waiting in push mode before the bytes arrive (bytes buffered
    // before `pump` starts are owned: they were queued, not lent)
    const consumer = yield* Effect.fork(consume(s))
    yield* Effect.yieldNow()
    yield* c.write(enc.encode(text))
    yield* c.end
    return yield* Fiber.join(consumer)
  }).pipe(Effect.provide(MemoryTransport.layer()))

describe("MemoryTransport: borrowed reads", () => {
  it.scoped("a lent chunk kept past the call is poisoned (0xdb), so the contract breach shows in tests", () =>
    Effect.gen(function*() {
      const kept: Array<Uint8Array> = []
      const copies: Array<string> = []
      yield* exchange("hello", (s) =>
        s.pump((chunks) => {
          for (const chunk of chunks) {
            kept.push(chunk)
            copies.push(new TextDecoder().decode(chunk))
          }
        }, { borrow: true }))
      expect(copies.join("")).toBe("hello")
      expect(kept.length).toBeGreaterThan(0)
      for (const chunk of kept) expect([...chunk].every((b) => b === 0xdb)).toBe(true)
    }))

  it.scoped("without borrow the chunks are the consumer's to keep", () =>
    Effect.gen(function*() {
      const kept: Array<Uint8Array> = []
      yield* exchange("hello", (s) =>
        s.pump((chunks) => {
          kept.push(...chunks)
        }))
      expect(new TextDecoder().decode(Connection.concat(kept))).toBe("hello")
    }))

  it.scoped("writes are copied: mutating a written array afterwards does not change what the peer reads", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const c = yield* t.connect(l.address)
      const s = yield* l.accept
      const data = enc.encode("abc")
      yield* c.write(data)
      data.fill(0x78)
      yield* c.end
      expect(new TextDecoder().decode(yield* Connection.readAll(s))).toBe("abc")
    }).pipe(Effect.provide(MemoryTransport.layer())))
})

describe("MemoryTransport: no TLS", () => {
  const certificates = { cert: "-----BEGIN CERTIFICATE-----", key: "-----BEGIN PRIVATE KEY-----" }

  it.scoped("a tls option fails listen and connect with reason Tls (ENOTSUP), never plain text in its place", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const refused = yield* Effect.flip(t.listen({ host: "127.0.0.1", port: 0 }, { tls: { certificates } }))
      expect(refused._tag).toBe("ListenError")
      expect(refused.reason).toBe("Tls")
      expect(Tls.errorOf(refused)?.code).toBe("ENOTSUP")
      expect(Tls.errorOf(refused)?.side).toBe("server")
      const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const err = yield* Effect.flip(t.connect(l.address, { tls: {} }))
      expect(err._tag).toBe("ConnectError")
      expect(err.reason).toBe("Tls")
      expect(Tls.errorOf(err)?.code).toBe("ENOTSUP")
      expect(Tls.errorOf(err)?.side).toBe("client")
      // the refused connect never reached the listener: the first connection accepted is the plain one
      const c = yield* t.connect(l.address)
      yield* c.write(enc.encode("plain"))
      yield* c.end
      expect(new TextDecoder().decode(yield* Connection.readAll(yield* l.accept))).toBe("plain")
    }).pipe(Effect.provide(MemoryTransport.layer())))
})
