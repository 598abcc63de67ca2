import { describe, expect, it } from "@effect/vitest"
import { Datagram } from "@wirekit/core"
import { NodeDatagram } from "@wirekit/node"
import { Duration, Effect } from "effect"

const enc = new TextEncoder()
const dec = new TextDecoder()
const any = { host: "127.0.0.1", port: 0 }

const within = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.timeoutFail(effect, { duration: Duration.seconds(2), onTimeout: () => new Error("timed out") })

describe("NodeDatagram", () => {
  it.scopedLive("sends past sendQueue wait for node:dgram's callbacks; none is lost or reordered", () =>
    Effect.gen(function*() {
      const receiver = yield* NodeDatagram.bind(any)
      const sender = yield* NodeDatagram.bind({ ...any, sendQueue: 2 })
      // node:dgram completes sends a tick later: the second one in a row fills the bound
      expect(sender.unsafeSend(enc.encode("0"), receiver.address)).toBe(true)
      expect(sender.unsafeSend(enc.encode("1"), receiver.address)).toBe(false)
      // kept by the core while full, handed over once there is room
      expect(sender.unsafeSend(enc.encode("2"), receiver.address)).toBe(false)
      yield* within(sender.awaitWritable)
      for (let i = 3; i < 200; i++) yield* sender.send(enc.encode(String(i)), receiver.address)
      const got: Array<number> = []
      while (got.length < 200) {
        for (const d of yield* within(receiver.takeBatch)) got.push(Number(dec.decode(d.data)))
      }
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i))
      expect(yield* sender.stats).toMatchObject({ sent: 200, sendDropped: 0, errors: 0 })
    }))

  it.scopedLive("an address that is not this machine's is AddressNotAvailable, with the code", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(NodeDatagram.bind({ host: "192.0.2.123", port: 0 }))
      expect(error).toBeInstanceOf(Datagram.DatagramError)
      expect(error).toMatchObject({ reason: "AddressNotAvailable", code: "EADDRNOTAVAIL", operation: "bind" })
    }))

  it.scopedLive("two sockets with reuseAddr share a port", () =>
    Effect.gen(function*() {
      const a = yield* NodeDatagram.bind({ ...any, reuseAddr: true })
      const b = yield* NodeDatagram.bind({ ...a.address, reuseAddr: true })
      expect(b.address).toEqual(a.address)
    }))

  it.scopedLive("broadcast is an option of the socket; a broadcast send without it is refused", () =>
    Effect.gen(function*() {
      const plain = yield* NodeDatagram.bind(any)
      yield* plain.send(enc.encode("x"), { host: "255.255.255.255", port: 9 })
      // the refusal comes back from node:dgram's callback, and fails the next send
      const error = yield* within(
        Effect.flip(Effect.repeat(Effect.zipRight(Effect.sleep(Duration.millis(10)), plain.awaitWritable), {
          times: 100
        }))
      )
      expect(error.reason).toBe("PermissionDenied")
      const allowed = yield* NodeDatagram.bind({ ...any, broadcast: true })
      expect(allowed.address.port).toBeGreaterThan(0)
    }))

  it.scopedLive("host names still resolve (IP literals skip the lookup)", () =>
    Effect.gen(function*() {
      const receiver = yield* NodeDatagram.bind({ host: "localhost", port: 0 })
      expect(receiver.address.host).toBe("127.0.0.1")
      const sender = yield* NodeDatagram.bind(any)
      yield* sender.send(enc.encode("by name"), { host: "localhost", port: receiver.address.port })
      expect(dec.decode((yield* within(receiver.take)).data)).toBe("by name")
    }))
})

describe("NodeDatagram: batches", () => {
  it.scopedLive("a burst reaches the pump in batches (a turn of the event loop each), not one call per datagram", () =>
    Effect.gen(function*() {
      // a kernel buffer that holds the whole burst
      const receiver = yield* NodeDatagram.bind({ ...any, receiveBufferSize: 1 << 20 })
      const sender = yield* NodeDatagram.bind(any)
      const batches: Array<number> = []
      yield* Effect.fork(receiver.pump((batch) => {
        batches.push(batch.length)
        // an Effect per batch: one fiber wake-up per batch
        return Effect.void
      }))
      yield* Effect.sleep(Duration.millis(10))
      for (let i = 0; i < 100; i++) sender.unsafeSend(enc.encode(String(i)), receiver.address)
      yield* within(Effect.repeat(Effect.sleep(Duration.millis(10)), {
        until: () => batches.reduce((n, b) => n + b, 0) === 100
      }))
      expect(batches.length).toBeLessThan(100)
      expect(Math.max(...batches)).toBeGreaterThan(1)
    }))
})
