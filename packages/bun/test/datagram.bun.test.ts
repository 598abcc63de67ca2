/**
 * Bun-specific datagram behaviours (the shared contract is in datagram.conformance.test.ts): ICMP errors from the
 * socket's error queue only while connected, synchronous refusals, a full send buffer and its drain, batching per
 * wake-up, the bind flags.
 */
import { describe, expect, it } from "@effect/vitest"
import { BunDatagram } from "@wirekit/bun"
import type { Datagram } from "@wirekit/core"
import { Duration, Effect, Fiber } from "effect"

const t = BunDatagram.transport
const enc = new TextEncoder()
const dec = new TextDecoder()
const any = { host: "127.0.0.1", port: 0 }

const takeWithin = (socket: Datagram.DatagramSocket, ms = 2000) =>
  Effect.timeoutFail(socket.take, {
    duration: Duration.millis(ms),
    onTimeout: () => new Error(`no datagram within ${ms} ms`)
  })

/** A port that was just free: bound, noted, closed. */
const deadPort = Effect.scoped(Effect.map(t.bind(any), (s) => s.address))

describe("BunDatagram", () => {
  it.scopedLive("unconnected, the ICMP error of a send to a closed port fails no later send", () =>
    Effect.gen(function*() {
      const gone = yield* deadPort
      const server = yield* t.bind(any)
      const client = yield* t.bind(any)
      yield* client.send(enc.encode("anyone?"), gone)
      // Bun reads the ECONNREFUSED from the error queue meanwhile; a server must not fail its next reply for it
      yield* Effect.sleep(Duration.millis(50))
      for (let i = 0; i < 3; i++) yield* client.send(enc.encode(`live ${i}`), server.address)
      expect(dec.decode((yield* takeWithin(server)).data)).toBe("live 0")
      expect((yield* client.stats).errors).toBe(0)
    }))

  it.scopedLive("a destination Bun refuses at once (the other family, a name) fails the next send with its reason", () =>
    Effect.gen(function*() {
      const client = yield* t.bind(any)
      yield* client.send(enc.encode("x"), { host: "::1", port: 9 })
      const error = yield* Effect.flip(client.send(enc.encode("y"), any))
      expect(error).toMatchObject({ reason: "Unsupported", code: "EAFNOSUPPORT", operation: "send" })
      expect((yield* client.stats).errors).toBe(1)
      // Bun looks no name up: a host name is Unsupported, and the socket goes on
      yield* client.send(enc.encode("x"), { host: "localhost", port: 9 })
      const named = yield* Effect.flip(client.send(enc.encode("y"), any))
      expect(named).toMatchObject({ reason: "Unsupported", code: "ENOTSUP" })
      expect(named.cause).toBeInstanceOf(Error)
      const server = yield* t.bind(any)
      yield* client.send(enc.encode("fine"), server.address)
      expect(dec.decode((yield* takeWithin(server)).data)).toBe("fine")
    }))

  it.scopedLive("a datagram Bun does not take (its send buffer full) is kept and sent on drain, in order", () =>
    Effect.gen(function*() {
      // loopback never fills a UDP send buffer: the client's socket says "full" while told to
      const bun = (globalThis as unknown as { Bun: { udpSocket: (options: unknown) => Promise<unknown> } }).Bun
      const original = bun.udpSocket
      let full = false
      let drain: (() => void) | undefined
      const server = yield* t.bind(any)
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          bun.udpSocket = async (options) => {
            const real = (await original.call(bun, options)) as Record<string | symbol, unknown>
            const handlers = (options as { socket: { drain: (s: unknown) => void } }).socket
            drain = () => handlers.drain(real)
            return new Proxy(real, {
              get: (target, key) => {
                if (key === "send") {
                  return (...args: Array<unknown>) =>
                    full ? false : (target.send as (...a: Array<unknown>) => boolean).apply(target, args)
                }
                const value = Reflect.get(target, key)
                return typeof value === "function" ? value.bind(target) : value
              }
            })
          }
        }),
        () => Effect.sync(() => (bun.udpSocket = original))
      )
      const client = yield* t.bind(any)
      full = true
      expect(client.unsafeSend(enc.encode("0"), server.address)).toBe(false)
      expect(client.unsafeSend(enc.encode("1"), server.address)).toBe(false)
      const waiting = yield* Effect.fork(client.send(enc.encode("2"), server.address))
      yield* Effect.sleep(Duration.millis(30))
      expect(waiting.unsafePoll()).toBeNull()
      expect((yield* server.stats).received).toBe(0)
      full = false
      drain!()
      yield* Effect.timeout(Fiber.join(waiting), Duration.seconds(2))
      const got: Array<string> = []
      while (got.length < 3) got.push(dec.decode((yield* takeWithin(server)).data))
      expect(got).toEqual(["0", "1", "2"])
      expect(yield* client.stats).toMatchObject({ sent: 3, sendDropped: 0 })
    }))

  it.scopedLive("datagrams read in one wake-up reach a pump that waits as one batch", () =>
    Effect.gen(function*() {
      const server = yield* t.bind(any)
      const client = yield* t.bind(any)
      const batches: Array<number> = []
      let total = 0
      const pump = yield* Effect.fork(server.pump((batch) => {
        batches.push(batch.length)
        total += batch.length
        return Effect.yieldNow()
      }))
      // 50 datagrams in the kernel's buffer before the server's next wake-up
      for (let i = 0; i < 50; i++) expect(client.unsafeSend(enc.encode(`${i}`), server.address)).toBe(true)
      yield* Effect.timeout(
        Effect.repeat(Effect.sleep(Duration.millis(5)), { until: () => total === 50 }),
        Duration.seconds(2)
      )
      // one wake-up for the first, one for the rest (a wake-up per datagram would make 50 batches)
      expect(batches.length).toBeLessThanOrEqual(5)
      expect(Math.max(...batches)).toBeGreaterThan(1)
      yield* Fiber.interrupt(pump)
    }))

  it.scopedLive("reuseAddr lets two sockets share a port; ipv6Only leaves the IPv4 side of [::] free", () =>
    Effect.gen(function*() {
      const a = yield* t.bind({ host: "0.0.0.0", port: 0, reuseAddr: true })
      const b = yield* t.bind({ host: "0.0.0.0", port: a.address.port, reuseAddr: true })
      expect(b.address.port).toBe(a.address.port)
      const taken = yield* Effect.flip(t.bind({ host: "0.0.0.0", port: a.address.port }))
      expect(taken.reason).toBe("AddressInUse")
      const v6 = yield* t.bind({ host: "::", port: 0, ipv6Only: true })
      const v4 = yield* t.bind({ host: "0.0.0.0", port: v6.address.port })
      expect(v4.address.port).toBe(v6.address.port)
      const dual = yield* t.bind({ host: "::", port: 0 })
      expect((yield* Effect.flip(t.bind({ host: "0.0.0.0", port: dual.address.port }))).reason).toBe("AddressInUse")
    }))
})
