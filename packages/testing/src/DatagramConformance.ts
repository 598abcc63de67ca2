/**
 * The datagram (UDP) conformance suite: one function that registers every
 * behaviour test of the datagram contract against a `Datagram.DatagramTransport`
 * layer. Every adapter (node, bun, deno, memory) runs exactly this suite,
 * over real sockets on the loopback interface, port 0 (or the in-memory
 * network).
 *
 * Real loopback UDP can drop under load too: the echo keeps a window of
 * datagrams in flight rather than a flood, and the flood case only asserts
 * what holds whatever the kernel dropped before the socket saw it.
 *
 * @example
 * ```ts
 * // packages/node/test/datagram.conformance.test.ts
 * import { DatagramConformance } from "@wirekit/testing"
 * import { NodeDatagram } from "@wirekit/node"
 * DatagramConformance.run({ name: "node", layer: NodeDatagram.layer, reportsRefused: true })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Datagram as Datagram$ } from "@wirekit/core"
import type { Address, Datagram } from "@wirekit/core"
import type { Layer, Scope } from "effect"
import { Duration, Effect, Exit, Fiber, Stream } from "effect"
import { expect } from "vitest"
import { dec, enc, randomBytes, settle } from "./internal.ts"

type TcpAddress = Address.TcpAddress
type Socket = Datagram.DatagramSocket
type Service = Datagram.DatagramTransportService

/**
 * What an adapter passes to {@link run}.
 *
 * @since 0.1.0
 * @category options
 */
export interface DatagramConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The datagram transport under test. */
  readonly layer: Layer.Layer<Datagram.DatagramTransport>
  /** Loopback host. Default "127.0.0.1". */
  readonly host?: string | undefined
  /** Also test IPv6 loopback ([::1]). Default true. */
  readonly ipv6?: boolean | undefined
  /**
   * The transport connects at the OS level, so a connected socket whose peer
   * has nothing on its port hears `Refused` (Linux reports the ICMP error on
   * a connected socket). Default false.
   */
  readonly reportsRefused?: boolean | undefined
  /** Multicast works (on real sockets: the loopback interface takes multicast). Default false. */
  readonly multicast?: boolean | undefined
  /** The largest datagram the boundaries case sends. Default `Datagram.maxIPv4DatagramSize`. */
  readonly largestDatagram?: number | undefined
  /** Datagrams in the echo case. Default 10^4. */
  readonly echoCount?: number | undefined
}

const within = <A, E, R>(ms: number, what: string, effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: Duration.millis(ms), onTimeout: () => new Error(`timed out: ${what}`) })

/** A datagram of `size` bytes: its sequence number in the first 4 bytes (when it fits), then seeded bytes. */
const numbered = (seq: number, size: number): Uint8Array => {
  const data = randomBytes(size, seq + 1)
  if (size >= 4) new DataView(data.buffer).setUint32(0, seq)
  return data
}

const sequenceOf = (data: Uint8Array): number =>
  new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0)

const same = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Takes one datagram, failing the test after `ms`. */
const takeWithin = (socket: Socket, ms = 2000) => within(ms, "a datagram", socket.take)

/**
 * Registers every behaviour test of the datagram contract.
 *
 * @since 0.1.0
 * @category suite
 */
export const run = (options: DatagramConformanceOptions): void => {
  const host = options.host ?? "127.0.0.1"
  const any = { host, port: 0 }
  const echoCount = options.echoCount ?? 10_000
  const largest = options.largestDatagram ?? Datagram$.maxIPv4DatagramSize
  const withT = <A, E>(f: (t: Service) => Effect.Effect<A, E, Scope.Scope | Datagram.DatagramTransport>) =>
    Effect.provide(Effect.flatMap(Datagram$.DatagramTransport, f), options.layer)

  /** An echo server: every batch goes back to its senders, from inside the receive callback. */
  const echoServer = (t: Service, bindOptions?: Datagram.BindOptions) =>
    Effect.gen(function*() {
      const server = yield* t.bind({ ...any, ...bindOptions })
      yield* Effect.forkScoped(server.pump((batch) => {
        let room = true
        for (const d of batch) room = server.unsafeSend(d.data, d.from) && room
        return room ? undefined : Effect.orDie(server.awaitWritable)
      }))
      return server
    })

  /** `count` datagrams through an echo server, a window of them in flight; checks every one, and the counters. */
  const echo = (t: Service, count: number, serverOptions?: Datagram.BindOptions) =>
    Effect.gen(function*() {
      const server = yield* echoServer(t, serverOptions)
      const client = yield* t.bind(any)
      const window = 32
      const sizes = (seq: number) => 4 + ((seq * 7919) % 1400)
      let sent = 0
      let sentBytes = 0
      let received = 0
      let receivedBytes = 0
      const seen = new Uint8Array(count)
      while (received < count) {
        while (sent < count && sent - received < window) {
          const data = numbered(sent, sizes(sent))
          yield* client.send(data, server.address)
          sentBytes += data.length
          sent++
        }
        const batch = yield* within(5000, `echo ${received}/${count}`, client.takeBatch)
        for (const d of batch) {
          const seq = sequenceOf(d.data)
          expect(seq).toBeLessThan(sent)
          expect(seen[seq]).toBe(0)
          seen[seq] = 1
          expect(same(d.data, numbered(seq, sizes(seq)))).toBe(true)
          expect(d.from).toEqual(server.address)
          received++
          receivedBytes += d.data.length
        }
      }
      expect(received).toBe(count)
      expect(receivedBytes).toBe(sentBytes)
      const stats = yield* server.stats
      expect(stats).toMatchObject({ received: count, sent: count, dropped: 0, sendDropped: 0 })
      expect(stats.receivedBytes).toBe(sentBytes)
      expect(stats.sentBytes).toBe(sentBytes)
      expect((yield* client.stats).sent).toBe(count)
    })

  describe(`datagram conformance: ${options.name}`, () => {
    it.scopedLive("bind on port 0 reports the real port, and datagrams reach it", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* t.bind(any)
          expect(server.address.host).toBe(host)
          expect(server.address.port).toBeGreaterThan(0)
          const client = yield* t.bind(any)
          expect(client.address.port).not.toBe(server.address.port)
          yield* client.send(enc.encode("hello"), server.address)
          const d = yield* takeWithin(server)
          expect(dec.decode(d.data)).toBe("hello")
          expect(d.from).toEqual(client.address)
        })
      ))

    it.scopedLive(
      `echo of ${echoCount} datagrams: every one back, byte-exact (count and bytes)`,
      () => withT((t) => echo(t, echoCount)),
      60_000
    )

    it.scopedLive(
      "echo with a sendQueue of 1: the pump pauses for room and resumes, nothing is lost",
      () => withT((t) => echo(t, Math.min(echoCount, 2000), { sendQueue: 1 })),
      60_000
    )

    it.scopedLive("boundaries are preserved: each datagram arrives whole, never split or merged", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* t.bind({ ...any, receiveQueueBytes: 1024 * 1024 })
          const client = yield* t.bind(any)
          const sizes = [1, 2, 3, 100, 1000, 1472, 1473, 4096, 9000, 32_768, largest]
          for (let i = 0; i < sizes.length; i++) {
            const data = randomBytes(sizes[i]!, i + 100)
            yield* client.send(data, server.address)
            const d = yield* takeWithin(server)
            expect(d.data.length).toBe(sizes[i])
            expect(same(d.data, data)).toBe(true)
          }
          // back to back, without waiting: still one datagram per send, in its own bytes
          for (let i = 0; i < 50; i++) yield* client.send(enc.encode(`#${i}`), server.address)
          const got: Array<string> = []
          while (got.length < 50) {
            const batch = yield* within(2000, "the back-to-back datagrams", server.takeBatch)
            for (const d of batch) got.push(dec.decode(d.data))
          }
          expect(got.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `#${i}`).sort())
        })
      ))

    it.scopedLive("a send past maxDatagramSize is a MessageTooLarge error with the size and the limit", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* t.bind(any)
          const client = yield* t.bind(any)
          const limit = client.maxDatagramSize
          expect(limit).toBe(Datagram$.maxIPv4DatagramSize)
          const error = yield* Effect.flip(client.send(new Uint8Array(limit + 1), server.address))
          expect(error._tag).toBe("DatagramError")
          expect(error).toMatchObject({ reason: "MessageTooLarge", operation: "send", size: limit + 1, limit })
          const small = yield* t.bind({ ...any, maxDatagramSize: 512 })
          const error2 = yield* Effect.flip(small.send(new Uint8Array(513), server.address))
          expect(error2).toMatchObject({ reason: "MessageTooLarge", size: 513, limit: 512 })
          expect(small.unsafeSend(new Uint8Array(513), server.address)).toBe(false)
          // the socket is fine afterwards
          yield* small.send(new Uint8Array(512), server.address)
          expect((yield* takeWithin(server)).data.length).toBe(512)
          const tooBig = yield* Effect.flip(t.bind({ ...any, maxDatagramSize: 70_000 }))
          expect(tooBig.reason).toBe("InvalidOptions")
        })
      ))

    it.scopedLive("a datagram larger than the receiver's maxDatagramSize is dropped and counted, never truncated", () =>
      withT((t) =>
        Effect.gen(function*() {
          const small = yield* t.bind({ ...any, maxDatagramSize: 100 })
          const sender = yield* t.bind(any)
          yield* sender.send(new Uint8Array(101), small.address)
          yield* sender.send(randomBytes(100, 5), small.address)
          const d = yield* takeWithin(small)
          expect(same(d.data, randomBytes(100, 5))).toBe(true)
          expect(yield* small.stats).toMatchObject({ received: 2, dropped: 1, droppedBytes: 101, queued: 0 })
        })
      ))

    it.scopedLive("sends wait while sendQueue datagrams are in the runtime's hands, and every one gets through", () =>
      withT((t) =>
        Effect.gen(function*() {
          const receiver = yield* t.bind(any)
          const sender = yield* t.bind({ ...any, sendQueue: 1 })
          const n = 500
          const got = new Set<number>()
          const taker = yield* Effect.fork(Effect.gen(function*() {
            while (got.size < n) for (const d of yield* receiver.takeBatch) got.add(sequenceOf(d.data))
          }))
          for (let i = 0; i < n; i++) {
            yield* sender.send(numbered(i, 64), receiver.address)
            // a window, so that a loaded machine does not drop on the receiving side
            if (i - got.size > 32) {
              yield* within(
                2000,
                "the window",
                Effect.repeat(Effect.sleep(Duration.millis(1)), { until: () => i - got.size <= 8 })
              )
            }
          }
          yield* within(5000, `${n} datagrams`, Fiber.join(taker))
          expect(got.size).toBe(n)
          expect(yield* sender.stats).toMatchObject({ sent: n, sendDropped: 0, errors: 0 })
        })
      ))

    it.scopedLive("address in use is a DatagramError with reason AddressInUse and the address", () =>
      withT((t) =>
        Effect.gen(function*() {
          const a = yield* t.bind(any)
          const error = yield* Effect.flip(t.bind(a.address))
          expect(error._tag).toBe("DatagramError")
          expect(error).toMatchObject({ reason: "AddressInUse", operation: "bind", address: a.address })
        })
      ))

    if (options.ipv6 !== false) {
      it.scopedLive("IPv6 loopback: bind [::1], send and receive, the sender's address is IPv6", () =>
        withT((t) =>
          Effect.gen(function*() {
            const server = yield* t.bind({ host: "::1", port: 0 })
            expect(server.address.host).toBe("::1")
            expect(server.address.port).toBeGreaterThan(0)
            expect(server.maxDatagramSize).toBe(Datagram$.maxIPv4DatagramSize)
            const client = yield* t.bind({ host: "::1", port: 0 })
            yield* client.send(enc.encode("over v6"), server.address)
            const d = yield* takeWithin(server)
            expect(dec.decode(d.data)).toBe("over v6")
            expect(d.from).toEqual(client.address)
            yield* server.send(enc.encode("back"), d.from)
            expect(dec.decode((yield* takeWithin(client)).data)).toBe("back")
          })
        ))
    }

    it.scopedLive("connected mode: send without a destination, only the peer's datagrams arrive", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* t.bind(any)
          const client = yield* t.bind(any)
          const stranger = yield* t.bind(any)
          yield* client.connect(server.address)
          expect(client.remoteAddress).toEqual(server.address)
          yield* client.send(enc.encode("connected hello"))
          const d = yield* takeWithin(server)
          expect(dec.decode(d.data)).toBe("connected hello")
          expect(d.from).toEqual(client.address)
          // a stranger's datagram never reaches the connected socket; the peer's does
          yield* stranger.send(enc.encode("from a stranger"), client.address)
          yield* Effect.sleep(Duration.millis(50))
          yield* server.send(enc.encode("from the peer"), client.address)
          expect(dec.decode((yield* takeWithin(client)).data)).toBe("from the peer")
          yield* Effect.sleep(Duration.millis(50))
          expect((yield* client.stats).queued).toBe(0)
          // a destination does not fit connected mode, nor does a second connect
          const wrong = yield* Effect.flip(client.send(enc.encode("x"), server.address))
          expect(wrong.reason).toBe("AlreadyConnected")
          expect((yield* Effect.flip(client.connect(stranger.address))).reason).toBe("AlreadyConnected")
          // and back to unconnected
          yield* client.disconnect
          expect(client.remoteAddress).toBeUndefined()
          expect((yield* Effect.flip(client.send(enc.encode("x")))).reason).toBe("NotConnected")
          yield* client.send(enc.encode("unconnected again"), server.address)
          expect(dec.decode((yield* takeWithin(server)).data)).toBe("unconnected again")
        })
      ))

    if (options.reportsRefused === true) {
      it.scopedLive("a connected socket whose peer has nothing on its port hears Refused", () =>
        withT((t) =>
          Effect.gen(function*() {
            // a port that was just free: bind, note it, close
            const gone = yield* Effect.scoped(Effect.map(t.bind(any), (s) => s.address))
            const client = yield* t.bind(any)
            yield* client.connect(gone)
            let error: Datagram.DatagramError | undefined
            for (let i = 0; i < 50 && error === undefined; i++) {
              const exit = yield* Effect.exit(client.send(enc.encode("anyone?")))
              if (Exit.isFailure(exit)) error = (yield* Effect.flip(exit)) as Datagram.DatagramError
              else yield* Effect.sleep(Duration.millis(20))
            }
            expect(error?.reason).toBe("Refused")
            expect((yield* client.stats).errors).toBeGreaterThan(0)
          })
        ))
    }

    it.scopedLive("a flood into a slow consumer stays under the queue bounds and counts the drops", () =>
      withT((t) =>
        Effect.gen(function*() {
          const receiveQueue = 64
          const receiveQueueBytes = 64 * 100 - 50
          const slow = yield* t.bind({ ...any, receiveQueue, receiveQueueBytes })
          const flooder = yield* t.bind(any)
          const n = 2000
          for (let i = 0; i < n; i++) yield* flooder.send(numbered(i, 100), slow.address)
          yield* settle(() => slow.unsafeStats().received)
          const stats = yield* slow.stats
          // the kernel may have dropped some before the socket saw them; what it saw obeys the bounds
          expect(stats.received).toBeGreaterThan(receiveQueue)
          expect(stats.queued).toBeLessThanOrEqual(receiveQueue)
          expect(stats.queuedBytes).toBeLessThanOrEqual(receiveQueueBytes)
          expect(stats.queued).toBe(Math.floor(receiveQueueBytes / 100))
          expect(stats.dropped).toBe(stats.received - stats.queued)
          expect(stats.droppedBytes).toBe(stats.dropped * 100)
          // dropNewest: what is queued is the first datagrams the socket saw, whole
          const batch = yield* slow.takeBatch
          expect(batch.length).toBe(stats.queued)
          for (const d of batch) expect(same(d.data, numbered(sequenceOf(d.data), 100))).toBe(true)
          expect((yield* slow.stats).queued).toBe(0)
          // and the socket goes on receiving afterwards
          yield* flooder.send(enc.encode("after the flood"), slow.address)
          expect(dec.decode((yield* takeWithin(slow)).data)).toBe("after the flood")
        })
      ))

    it.scopedLive("the receive stream and pump end when the socket closes; take then fails with Closed", () =>
      withT((t) =>
        Effect.gen(function*() {
          const a = yield* t.bind(any)
          const b = yield* t.bind(any)
          const streamed = yield* Effect.fork(Stream.runCollect(Stream.take(b.receive, 3)))
          for (let i = 0; i < 3; i++) yield* a.send(enc.encode(`s${i}`), b.address)
          const collected = yield* within(2000, "the stream", Fiber.join(streamed))
          expect([...collected].map((d) => dec.decode(d.data))).toEqual(["s0", "s1", "s2"])
          const pumped: Array<string> = []
          const pump = yield* Effect.fork(b.pump((batch) => {
            for (const d of batch) pumped.push(dec.decode(d.data))
          }))
          yield* a.send(enc.encode("p"), b.address)
          yield* within(
            2000,
            "the pump",
            Effect.repeat(Effect.sleep(Duration.millis(5)), { until: () => pumped.length === 1 })
          )
          yield* b.close
          yield* within(2000, "the pump to end", Fiber.join(pump))
          expect(pumped).toEqual(["p"])
          const error = yield* Effect.flip(b.take)
          expect(error).toMatchObject({ reason: "Closed" })
          expect((yield* Effect.flip(b.send(enc.encode("x"), a.address))).reason).toBe("Closed")
          const ended = yield* within(2000, "the stream to end", Stream.runCollect(b.receive))
          expect(ended.length).toBe(0)
          yield* within(1000, "closed", b.closed)
        })
      ))

    it.scopedLive("a socket's address is free again once its scope closes", () =>
      withT((t) =>
        Effect.gen(function*() {
          const address = yield* Effect.scoped(Effect.map(t.bind(any), (s): TcpAddress => s.address))
          const again = yield* t.bind(address)
          expect(again.address).toEqual(address)
        })
      ))

    if (options.multicast === true) {
      it.scopedLive("multicast: a member of the group receives, and no longer once it left", () =>
        withT((t) =>
          Effect.gen(function*() {
            const group = "239.255.42.99"
            const member = yield* t.bind({
              host: "0.0.0.0",
              port: 0,
              reuseAddr: true,
              multicast: { groups: [group], loopback: true, interface: host }
            })
            const sender = yield* t.bind({ ...any, multicast: { loopback: true, ttl: 1, interface: host } })
            yield* sender.send(enc.encode("to the group"), { host: group, port: member.address.port })
            expect(dec.decode((yield* takeWithin(member)).data)).toBe("to the group")
            yield* member.leaveMulticast(group, host)
            yield* sender.send(enc.encode("after leaving"), { host: group, port: member.address.port })
            yield* Effect.sleep(Duration.millis(50))
            expect((yield* member.stats).received).toBe(1)
          })
        ))
    }
  })
}
