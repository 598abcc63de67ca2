import { describe, expect, it } from "@effect/vitest"
import { Datagram, MemoryDatagram } from "@wirekit/core"
import { Cause, Effect, Exit, Fiber, TestClock } from "effect"

const enc = new TextEncoder()
const dec = new TextDecoder()

const loopback = { host: "127.0.0.1", port: 0 }

/** Lets the memory wire deliver (it delivers one batch per microtask). */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

/** Sends `n` numbered datagrams through a network with `faults`, returns the numbers received, in order. */
const throughFaults = (n: number, faults: MemoryDatagram.FaultOptions) =>
  Effect.gen(function*() {
    const net = yield* MemoryDatagram.make(faults)
    const a = yield* net.bind(loopback)
    const b = yield* net.bind(loopback)
    for (let i = 0; i < n; i++) yield* a.send(enc.encode(String(i)), b.address)
    yield* settle
    const got: Array<number> = []
    while ((yield* b.stats).queued > 0) got.push(Number(dec.decode((yield* b.take).data)))
    return { got, faults: net.faults() }
  })

describe("MemoryDatagram: fault injection", () => {
  it.scoped("one seed replays the same losses, duplicates and reorders; another seed differs", () =>
    Effect.gen(function*() {
      const faults = { loss: 0.1, duplicate: 0.05, reorder: 0.1, seed: 7 }
      const first = yield* throughFaults(1000, faults)
      const again = yield* throughFaults(1000, faults)
      const other = yield* throughFaults(1000, { ...faults, seed: 8 })
      expect(again.got).toEqual(first.got)
      expect(again.faults).toEqual(first.faults)
      expect(other.got).not.toEqual(first.got)
      // the rates are roughly the asked ones, and every fault kind happened
      expect(first.faults.lost).toBeGreaterThan(50)
      expect(first.faults.lost).toBeLessThan(150)
      expect(first.faults.duplicated).toBeGreaterThan(10)
      expect(first.faults.reordered).toBeGreaterThan(30)
      expect(first.got.length).toBe(1000 - first.faults.lost + first.faults.duplicated)
      const sorted = [...first.got].sort((x, y) => x - y)
      expect(first.got).not.toEqual(sorted)
    }))

  it.scoped("without faults every datagram arrives once, in order", () =>
    Effect.gen(function*() {
      const { faults, got } = yield* throughFaults(500, {})
      expect(got).toEqual(Array.from({ length: 500 }, (_, i) => i))
      expect(faults).toMatchObject({ sent: 500, delivered: 500, lost: 0, duplicated: 0, reordered: 0 })
    }))

  it.scoped("delay runs on the Clock: nothing arrives before TestClock reaches it", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make({ delay: { min: 100, max: 200 }, seed: 3 })
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      for (let i = 0; i < 20; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      expect((yield* b.stats).received).toBe(0)
      yield* TestClock.adjust("99 millis")
      yield* settle
      expect((yield* b.stats).received).toBe(0)
      yield* TestClock.adjust("101 millis")
      yield* settle
      const stats = yield* b.stats
      expect(stats.received).toBe(20)
      expect(net.faults().delayed).toBe(20)
      const got: Array<number> = []
      for (let i = 0; i < 20; i++) got.push(Number(dec.decode((yield* b.take).data)))
      // uniform delays in 100..200 reorder the datagrams
      expect(got).not.toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect([...got].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    }))

  it.scoped("bad fault options are defects, not silent defaults", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(MemoryDatagram.make({ loss: 1.5 }))
      expect(Exit.isFailure(exit) && Cause.squash(exit.cause) instanceof RangeError).toBe(true)
    }))
})

describe("Datagram: the receive queue", () => {
  it.scoped("dropNewest keeps the first datagrams, counts the rest as dropped, and stays under both bounds", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind({ ...loopback, receiveQueue: 10, receiveQueueBytes: 1000 })
      for (let i = 0; i < 100; i++) yield* a.send(enc.encode(String(i).padStart(3, "0")), b.address)
      yield* settle
      const stats = yield* b.stats
      expect(stats).toMatchObject({ received: 100, dropped: 90, droppedBytes: 270, queued: 10, queuedBytes: 30 })
      const batch = yield* b.takeBatch
      expect(batch.map((d) => dec.decode(d.data))).toEqual(Array.from({ length: 10 }, (_, i) => `00${i}`))
    }))

  it.scoped("dropOldest keeps the latest datagrams", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind({ ...loopback, receiveQueue: 10, overflow: "dropOldest" })
      for (let i = 0; i < 100; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      expect(yield* b.stats).toMatchObject({ received: 100, dropped: 90, queued: 10 })
      const batch = yield* b.takeBatch
      expect(batch.map((d) => Number(dec.decode(d.data)))).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i))
    }))

  it.scoped("the byte bound holds with few large datagrams", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind({ ...loopback, receiveQueueBytes: 10_000 })
      for (let i = 0; i < 10; i++) yield* a.send(new Uint8Array(3000), b.address)
      yield* settle
      expect(yield* b.stats).toMatchObject({ received: 10, dropped: 7, queued: 3, queuedBytes: 9000 })
    }))

  it.scoped("take waits for a datagram; close ends waiting receivers with Closed and the stream ends", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      const taker = yield* Effect.fork(b.take)
      yield* settle
      yield* a.send(enc.encode("x"), b.address)
      const d = yield* Fiber.join(taker)
      expect(dec.decode(d.data)).toBe("x")
      expect(d.from).toEqual(a.address)
      const waiting = yield* Effect.fork(b.take)
      yield* settle
      yield* b.close
      const exit = yield* Fiber.await(waiting)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("Closed")).toBe(true)
      const exit2 = yield* Effect.exit(a.send(enc.encode("y"), b.address).pipe(Effect.zipRight(b.take)))
      expect(Exit.isFailure(exit2)).toBe(true)
    }))
})

describe("Datagram: pump", () => {
  it.scoped("delivers what was queued first, then batches as they arrive; pauses while an effect runs", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      for (let i = 0; i < 5; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      const batches: Array<Array<number>> = []
      const pump = yield* Effect.fork(b.pump((batch) => {
        batches.push(batch.map((d) => Number(dec.decode(d.data))))
        // the first batch makes the consumer slow for a while: meanwhile datagrams queue
        return batches.length === 1 ? Effect.sleep("10 millis") : undefined
      }))
      yield* settle
      for (let i = 5; i < 10; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      expect(batches).toEqual([[0, 1, 2, 3, 4]])
      yield* TestClock.adjust("10 millis")
      yield* settle
      expect(batches).toEqual([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
      yield* a.send(enc.encode("10"), b.address)
      yield* settle
      expect(batches.at(-1)).toEqual([10])
      yield* b.close
      expect(Exit.isSuccess(yield* Fiber.await(pump))).toBe(true)
    }))

  it.scoped("an echo with unsafeSend inside the callback answers every datagram", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make({ sendBuffer: 8 })
      const server = yield* net.bind(loopback)
      const client = yield* net.bind(loopback)
      yield* Effect.fork(server.pump((batch) => {
        for (const d of batch) server.unsafeSend(d.data, d.from)
        // a full send buffer pauses delivery until the wire takes the datagrams
      }))
      const n = 2000
      let sent = 0
      let received = 0
      while (received < n) {
        while (sent < n && sent - received < 64) yield* client.send(enc.encode(String(sent++)), server.address)
        const batch = yield* client.takeBatch
        for (const d of batch) expect(Number(dec.decode(d.data))).toBe(received++)
      }
      const stats = yield* server.stats
      expect(stats).toMatchObject({ received: n, sent: n, dropped: 0 })
    }))
})

describe("Datagram: sending", () => {
  it.scoped("past maxDatagramSize a send fails with MessageTooLarge, with the size and the limit", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind({ ...loopback, maxDatagramSize: 100 })
      const error = yield* Effect.flip(a.send(new Uint8Array(101), a.address))
      expect(error).toMatchObject({ _tag: "DatagramError", reason: "MessageTooLarge", size: 101, limit: 100 })
      expect(a.unsafeSend(new Uint8Array(101), a.address)).toBe(false)
      yield* a.send(new Uint8Array(100), a.address)
      yield* settle
      expect((yield* a.take).data.length).toBe(100)
    }))

  it.scoped("a send waits while the send buffer is full, and every datagram gets through", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make({ sendBuffer: 4 })
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      for (let i = 0; i < 100; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      expect(yield* b.stats).toMatchObject({ received: 100, dropped: 0 })
      expect(net.faults().sent).toBe(100)
    }))

  it.scoped("bad options are an InvalidOptions error that says which", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const tooBig = yield* Effect.flip(net.bind({ ...loopback, maxDatagramSize: 70_000 }))
      expect(tooBig).toMatchObject({ reason: "InvalidOptions", operation: "bind" })
      expect(tooBig.message).toContain("maxDatagramSize")
      const v6 = yield* net.bind({ host: "::1", port: 0, maxDatagramSize: Datagram.maxIPv6DatagramSize })
      expect(v6.maxDatagramSize).toBe(65_527)
      const queue = yield* Effect.flip(net.bind({ ...loopback, receiveQueue: 0 }))
      expect(queue.detail).toContain("receiveQueue")
    }))
})

describe("Datagram: connected mode and multicast on the memory network", () => {
  it.scoped("a connected socket sends to its peer, takes only the peer's datagrams, and hears Refused", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      const stranger = yield* net.bind(loopback)
      yield* a.connect(b.address)
      expect(a.remoteAddress).toEqual(b.address)
      yield* a.send(enc.encode("to b"))
      expect(yield* Effect.flip(a.send(enc.encode("x"), b.address))).toMatchObject({ reason: "AlreadyConnected" })
      yield* stranger.send(enc.encode("from stranger"), a.address)
      yield* b.send(enc.encode("from b"), a.address)
      yield* settle
      expect(dec.decode((yield* b.take).data)).toBe("to b")
      expect(dec.decode((yield* a.take).data)).toBe("from b")
      expect(yield* a.stats).toMatchObject({ queued: 0 })
      yield* b.close
      yield* a.send(enc.encode("anyone?"))
      yield* settle
      expect(yield* Effect.flip(a.send(enc.encode("again")))).toMatchObject({ reason: "Refused" })
      expect((yield* a.stats).errors).toBe(1)
      yield* a.disconnect
      expect(yield* Effect.flip(a.send(enc.encode("where?")))).toMatchObject({ reason: "NotConnected" })
    }))

  it.scoped("multicast reaches the group's members only", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const member = yield* net.bind({
        host: "0.0.0.0",
        port: 5000,
        reuseAddr: true,
        multicast: { groups: ["239.1.2.3"] }
      })
      const other = yield* net.bind({ host: "0.0.0.0", port: 5000, reuseAddr: true })
      const sender = yield* net.bind(loopback)
      yield* sender.send(enc.encode("hello group"), { host: "239.1.2.3", port: 5000 })
      yield* settle
      expect(dec.decode((yield* member.take).data)).toBe("hello group")
      expect((yield* other.stats).received).toBe(0)
      yield* member.leaveMulticast("239.1.2.3")
      yield* sender.send(enc.encode("again"), { host: "239.1.2.3", port: 5000 })
      yield* settle
      expect((yield* member.stats).received).toBe(1)
    }))

  it.scoped("every spelling of an address reaches the same socket (IPv6 forms, localhost)", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const v6 = yield* net.bind({ host: "0:0:0:0:0:0:0:1", port: 0 })
      expect(v6.address.host).toBe("::1")
      const v4 = yield* net.bind({ host: "localhost", port: 0 })
      expect(v4.address.host).toBe("127.0.0.1")
      const sender6 = yield* net.bind({ host: "::1", port: 0 })
      const sender4 = yield* net.bind(loopback)
      yield* sender6.send(enc.encode("long form"), { host: "0::1", port: v6.address.port })
      yield* sender4.send(enc.encode("by name"), { host: "localhost", port: v4.address.port })
      yield* settle
      expect(dec.decode((yield* v6.take).data)).toBe("long form")
      expect(dec.decode((yield* v4.take).data)).toBe("by name")
    }))

  it.scoped("a bind whose multicast groups cannot be joined fails, and frees its port at once", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const error = yield* Effect.flip(net.bind({ host: "0.0.0.0", port: 7000, multicast: { groups: ["10.0.0.1"] } }))
      expect(error).toMatchObject({ reason: "Other", operation: "multicast", code: "EINVAL" })
      const again = yield* net.bind({ host: "0.0.0.0", port: 7000 })
      expect(again.address.port).toBe(7000)
    }))

  it.scoped("address in use, unless both sockets reuse the address", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const error = yield* Effect.flip(net.bind(a.address))
      expect(error).toMatchObject({ reason: "AddressInUse", operation: "bind", address: a.address })
      yield* net.bind({ host: "127.0.0.1", port: 6000, reuseAddr: true })
      yield* net.bind({ host: "127.0.0.1", port: 6000, reuseAddr: true })
    }))
})

/** A socket over a scripted driver: `outcomes` says what each send returns (then "sent"). */
const scripted = (outcomes: Array<Datagram.SendOutcome>, options?: Datagram.BindOptions) => {
  const handed: Array<string> = []
  let events!: Datagram.DatagramEvents
  const resolved = Datagram.resolveOptions({ host: "127.0.0.1", port: 9, ...options })
  if (resolved instanceof Datagram.DatagramError) throw resolved
  const socket = Datagram.makeSocket({ address: { host: "127.0.0.1", port: 9 }, options: resolved }, (e) => {
    events = e
    return {
      send: (data) => {
        const outcome = outcomes.shift() ?? "sent"
        if (outcome !== "retry") handed.push(dec.decode(data))
        return outcome
      },
      close: () => {}
    }
  })
  return { socket, handed, events: () => events }
}

const peer = { host: "127.0.0.1", port: 10 }

describe("Datagram: the driver contract", () => {
  it.effect("retry: a datagram the runtime did not take is handed again after writable, and send waits for it", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted(["sent", "retry"])
      yield* socket.send(enc.encode("a"), peer)
      const second = yield* Effect.fork(socket.send(enc.encode("b"), peer))
      yield* Effect.yieldNow()
      expect(second.unsafePoll()).toBeNull()
      expect(handed).toEqual(["a"])
      events().writable()
      yield* Fiber.join(second)
      expect(handed).toEqual(["a", "b"])
      expect((yield* socket.stats).sent).toBe(2)
    }))

  it.effect("full: the datagram was taken; the next send waits for writable", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted(["full"])
      yield* socket.send(enc.encode("a"), peer)
      const second = yield* Effect.fork(socket.send(enc.encode("b"), peer))
      yield* Effect.yieldNow()
      expect(second.unsafePoll()).toBeNull()
      expect(handed).toEqual(["a"])
      events().writable()
      yield* Fiber.join(second)
      expect(handed).toEqual(["a", "b"])
    }))

  it.effect("unsafeSend while full keeps up to sendQueue (or receiveQueue) datagrams, sends them in order on writable, drops the rest", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted(["full", "retry"], { sendQueue: 3, receiveQueue: 2 })
      expect(socket.unsafeSend(enc.encode("0"), peer)).toBe(false)
      for (let i = 1; i <= 5; i++) expect(socket.unsafeSend(enc.encode(String(i)), peer)).toBe(false)
      expect(handed).toEqual(["0"])
      // the first writable meets a runtime still full ("retry"): nothing moves
      events().writable()
      expect(handed).toEqual(["0"])
      events().writable()
      expect(handed).toEqual(["0", "1", "2", "3"])
      expect(yield* socket.stats).toMatchObject({ sent: 4, sendDropped: 2 })
      expect(socket.unsafeSend(enc.encode("6"), peer)).toBe(true)
      yield* socket.awaitWritable
    }))

  it.effect("with a tiny sendQueue, unsafeSend still keeps an answer to each datagram of a full receive queue", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted(["full"], { sendQueue: 1, receiveQueue: 4 })
      for (let i = 0; i < 6; i++) socket.unsafeSend(enc.encode(String(i)), peer)
      events().writable()
      expect(handed).toEqual(["0", "1", "2", "3", "4"])
      expect((yield* socket.stats).sendDropped).toBe(1)
    }))

  it.effect("a runtime error fails the next send only (and awaitWritable), and is counted", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted([])
      events().error("EHOSTUNREACH", new Error("no route"))
      expect(socket.unsafeSend(enc.encode("x"), peer)).toBe(false)
      const error = yield* Effect.flip(socket.send(enc.encode("a"), peer))
      expect(error).toMatchObject({ reason: "Unreachable", code: "EHOSTUNREACH", operation: "send" })
      yield* socket.send(enc.encode("b"), peer)
      events().error("ECONNREFUSED", undefined)
      expect((yield* Effect.flip(socket.awaitWritable)).reason).toBe("Refused")
      yield* socket.awaitWritable
      expect(handed).toEqual(["b"])
      expect((yield* socket.stats).errors).toBe(2)
    }))

  it.effect("the runtime closing the socket ends waiting receivers and fails sends with Closed", () =>
    Effect.gen(function*() {
      const { events, socket } = scripted(["full"])
      const taker = yield* Effect.fork(socket.take)
      yield* socket.send(enc.encode("a"), peer)
      const sender = yield* Effect.fork(socket.send(enc.encode("b"), peer))
      yield* Effect.yieldNow()
      events().closedByRuntime()
      expect((yield* Effect.flip(Fiber.join(taker))).reason).toBe("Closed")
      expect((yield* Effect.flip(Fiber.join(sender))).reason).toBe("Closed")
      yield* socket.closed
    }))

  it.effect("without a driver connect, connected mode is emulated: default destination and filtering by sender", () =>
    Effect.gen(function*() {
      const sent: Array<unknown> = []
      let events!: Datagram.DatagramEvents
      const resolved = Datagram.resolveOptions({ host: "127.0.0.1", port: 9 }) as Datagram.ResolvedBindOptions
      const socket = Datagram.makeSocket({ address: { host: "127.0.0.1", port: 9 }, options: resolved }, (e) => {
        events = e
        return {
          send: (_data, to) => {
            sent.push(to)
            return "sent"
          },
          close: () => {}
        }
      })
      yield* socket.connect(peer)
      yield* socket.send(enc.encode("x"))
      expect(sent).toEqual([peer])
      events.message(enc.encode("stranger"), "127.0.0.1", 11)
      events.message(enc.encode("peer"), peer.host, peer.port)
      expect(dec.decode((yield* socket.take).data)).toBe("peer")
      expect(yield* socket.stats).toMatchObject({ received: 2, dropped: 1, queued: 0 })
    }))

  it("reasonOf maps the OS codes", () => {
    expect(Datagram.reasonOf("EADDRINUSE")).toBe("AddressInUse")
    expect(Datagram.reasonOf("EMSGSIZE")).toBe("MessageTooLarge")
    expect(Datagram.reasonOf("ECONNREFUSED")).toBe("Refused")
    expect(Datagram.reasonOf("ENETUNREACH")).toBe("Unreachable")
    expect(Datagram.reasonOf("EACCES")).toBe("PermissionDenied")
    expect(Datagram.reasonOf(undefined)).toBe("Other")
    const error = Datagram.fromCause("bind", Object.assign(new Error("x"), { code: "EADDRINUSE" }), peer)
    expect(error).toMatchObject({ reason: "AddressInUse", code: "EADDRINUSE", address: peer })
    expect(error.message).toBe("datagram bind 127.0.0.1:10 failed: AddressInUse [EADDRINUSE]")
  })
})

describe("MemoryDatagram: bounded", () => {
  it.scoped("delayed datagrams on their way are bounded by maxDelayed; the rest are lost and counted", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make({ delay: 50, maxDelayed: 10 })
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      for (let i = 0; i < 30; i++) yield* a.send(enc.encode(String(i)), b.address)
      yield* settle
      expect(net.faults()).toMatchObject({ sent: 30, delayed: 10, overflowed: 20 })
      yield* TestClock.adjust("50 millis")
      yield* settle
      expect((yield* b.stats).received).toBe(10)
      // room again once they arrived
      yield* a.send(enc.encode("later"), b.address)
      yield* settle
      expect(net.faults().delayed).toBe(11)
    }))
})

describe("Datagram: emulated connected mode", () => {
  const emulated = () => {
    let events!: Datagram.DatagramEvents
    const resolved = Datagram.resolveOptions({ host: "::", port: 9 }) as Datagram.ResolvedBindOptions
    const socket = Datagram.makeSocket({ address: { host: "::", port: 9 }, options: resolved }, (e) => {
      events = e
      return { send: () => "sent", close: () => {} }
    })
    return { socket, events: () => events }
  }

  it.effect("the peer's address matches however the runtime spells it (IPv6 forms, IPv4-mapped)", () =>
    Effect.gen(function*() {
      const { events, socket } = emulated()
      yield* socket.connect({ host: "0:0:0:0:0:0:0:1", port: 10 })
      events().message(enc.encode("a"), "::1", 10)
      events().message(enc.encode("b"), "::2", 10)
      events().message(enc.encode("c"), "::1", 11)
      expect((yield* socket.takeBatch).map((d) => dec.decode(d.data))).toEqual(["a"])
      yield* socket.disconnect
      yield* socket.connect({ host: "127.0.0.1", port: 10 })
      events().message(enc.encode("mapped"), "::ffff:127.0.0.1", 10)
      expect(dec.decode((yield* socket.take).data)).toBe("mapped")
      expect((yield* socket.stats).dropped).toBe(2)
    }))

  it.effect("a host name cannot be filtered on: Unsupported, saying why", () =>
    Effect.gen(function*() {
      const { socket } = emulated()
      const error = yield* Effect.flip(socket.connect({ host: "localhost", port: 10 }))
      expect(error).toMatchObject({ reason: "Unsupported", operation: "connect" })
      expect(error.detail).toContain("IP address")
      expect(socket.remoteAddress).toBeUndefined()
    }))
})

describe("Datagram: batches per wake-up", () => {
  const batchedSocket = () => {
    let events!: Datagram.DatagramEvents
    const resolved = Datagram.resolveOptions({ host: "127.0.0.1", port: 9 }) as Datagram.ResolvedBindOptions
    const socket = Datagram.makeSocket(
      { address: { host: "127.0.0.1", port: 9 }, options: resolved, batched: true },
      (e) => {
        events = e
        return { send: () => "sent", close: () => {} }
      }
    )
    return { socket, events: () => events }
  }

  it.effect("a batching adapter's datagrams reach the pump together at flush", () =>
    Effect.gen(function*() {
      const { events, socket } = batchedSocket()
      const batches: Array<Array<string>> = []
      yield* Effect.fork(socket.pump((batch) => {
        batches.push(batch.map((d) => dec.decode(d.data)))
      }))
      yield* Effect.yieldNow()
      for (const text of ["a", "b", "c"]) events().message(enc.encode(text), "127.0.0.1", 10)
      expect(batches).toEqual([])
      events().flush()
      expect(batches).toEqual([["a", "b", "c"]])
      events().flush()
      events().message(enc.encode("d"), "127.0.0.1", 10)
      events().flush()
      expect(batches).toEqual([["a", "b", "c"], ["d"]])
    }))

  it.effect("a waiting takeBatch is woken once, at flush, with the whole wake-up", () =>
    Effect.gen(function*() {
      const { events, socket } = batchedSocket()
      const taker = yield* Effect.fork(socket.takeBatch)
      yield* Effect.yieldNow()
      events().message(enc.encode("a"), "127.0.0.1", 10)
      events().message(enc.encode("b"), "127.0.0.1", 10)
      yield* Effect.yieldNow()
      expect(taker.unsafePoll()).toBeNull()
      events().flush()
      expect((yield* Fiber.join(taker)).map((d) => dec.decode(d.data))).toEqual(["a", "b"])
    }))

  it.scoped("the memory network delivers a burst as one batch, and a pump returning Effects wakes once per batch", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      const batches: Array<number> = []
      yield* Effect.fork(b.pump((batch) => {
        batches.push(batch.length)
        return Effect.void
      }))
      yield* settle
      for (let i = 0; i < 50; i++) a.unsafeSend(enc.encode(String(i)), b.address)
      yield* settle
      expect(batches).toEqual([50])
    }))

  it.effect("a pump's Effect that completes at once runs inside the delivery: an echo is sent before message() returns", () =>
    Effect.gen(function*() {
      const { events, handed, socket } = scripted([])
      yield* Effect.fork(
        socket.pump((batch) => Effect.forEach(batch, (d) => socket.send(d.data, d.from), { discard: true }))
      )
      yield* Effect.yieldNow()
      events().message(enc.encode("ping"), "127.0.0.1", 10)
      // no fiber ran in between: the Effect was evaluated in the delivery itself
      expect(handed).toEqual(["ping"])
      events().message(enc.encode("pong"), "127.0.0.1", 10)
      expect(handed).toEqual(["ping", "pong"])
    }))

  it.scoped("a pump's Effect that waits holds the next batches back, and they follow in order", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      const seen: Array<string> = []
      yield* Effect.fork(b.pump((batch) => {
        const texts = batch.map((d) => dec.decode(d.data))
        return Effect.gen(function*() {
          seen.push(texts.join(","))
          if (texts.includes("wait")) yield* Effect.sleep("1 second")
        })
      }))
      yield* settle
      a.unsafeSend(enc.encode("wait"), b.address)
      yield* settle
      for (const t of ["p", "q"]) a.unsafeSend(enc.encode(t), b.address)
      yield* settle
      expect(seen).toEqual(["wait"])
      expect((yield* b.stats).queued).toBe(2)
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(seen).toEqual(["wait", "p,q"])
    }))

  it.scoped("a pump's Effect that fails ends the pump with that failure", () =>
    Effect.gen(function*() {
      const net = yield* MemoryDatagram.make()
      const a = yield* net.bind(loopback)
      const b = yield* net.bind(loopback)
      const pump = yield* Effect.fork(
        b.pump((batch) => dec.decode(batch[0]!.data) === "bad" ? Effect.fail("refused bad" as const) : Effect.void)
      )
      yield* settle
      a.unsafeSend(enc.encode("fine"), b.address)
      yield* settle
      expect(pump.unsafePoll()).toBe(null)
      a.unsafeSend(enc.encode("bad"), b.address)
      yield* settle
      const exit = yield* Fiber.await(pump)
      expect(
        Exit.isFailure(exit) && Cause.failureOption(exit.cause)._tag === "Some" &&
          Cause.failureOption(exit.cause).pipe((o) => o._tag === "Some" && o.value === "refused bad")
      ).toBe(true)
    }))

  it.scoped("a pump's Effect runs like a request: fibers it forks end when it completes", () =>
    Effect.gen(function*() {
      const { events, socket } = scripted([])
      const forked: Array<Fiber.RuntimeFiber<never>> = []
      yield* Effect.fork(socket.pump(() =>
        Effect.map(Effect.fork(Effect.never), (fiber) => {
          forked.push(fiber)
        })
      ))
      yield* Effect.yieldNow()
      events().message(enc.encode("a"), "127.0.0.1", 10)
      expect(forked.length).toBe(1)
      const exit = yield* Fiber.await(forked[0]!)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))
})
