/**
 * The hostile-peer suite: what a server must withstand from peers that do not
 * play along (a client that never reads its replies, input that never ends,
 * a peer that trickles bytes), registered against a transport Layer like the
 * other conformance suites. Each test drives the server with a raw connection
 * speaking the wire format by hand, so nothing in a well-behaved client hides
 * the server's behaviour.
 *
 * @example
 * ```ts
 * import { HostileConformance } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * HostileConformance.run({ name: "node", layer: NodeTransport.layer })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import type { Address as Address$ } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Framed } from "@wirekit/core"
import { InputBudget } from "@wirekit/core"
import { LengthField } from "@wirekit/core"
import { Protocol } from "@wirekit/core"
import { ProtocolServer } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { Transport } from "@wirekit/core"
import { Effect, Schedule, Schema } from "effect"
import type { Duration, Layer, Scope } from "effect"
import { expect } from "vitest"
type Address = Address$.Address

/**
 * What an adapter passes to {@link run}.
 * @since 0.1.0
 * @category options
 */
export interface HostileConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The transport under test, provided anew to each test. */
  readonly layer: Layer.Layer<Transport.Transport>
}

const utf8 = new TextEncoder()
const text = new TextDecoder()
const lengthField = LengthField.make({ fieldLength: 4 })

/** The value every `Big` request is answered with: 256 KiB. */
const BIG = "v".repeat(256 * 1024)
const BigGet = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.String })
const Bigs = Protocol.rpc({ name: "bigs", methods: [BigGet], correlation: "byId" })

/** `n` length-prefixed JSON requests in one array: what a pipelining peer sends in one write. */
const pipelined = (n: number, request: (id: number) => string): Uint8Array => {
  const frames = Array.from({ length: n }, (_, i) => utf8.encode(request(i + 1)))
  const out = new Uint8Array(frames.reduce((sum, f) => sum + 4 + f.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const f of frames) {
    view.setUint32(at, f.length)
    out.set(f, at + 4)
    at += 4 + f.length
  }
  return out
}

/** Whether the server closes `conn` within `within` (whatever it wrote before: a fault reply, say). */
const closedSoon = (
  conn: Connection.Connection,
  within: Duration.DurationInput = "500 millis"
): Effect.Effect<boolean> =>
  conn.read.pipe(
    Effect.repeat({ until: (r) => r === Connection.EOF }),
    Effect.as(true),
    Effect.catchAll(() => Effect.succeed(true)),
    Effect.timeoutTo({ duration: within, onTimeout: () => false, onSuccess: (x) => x })
  )

const connect = (address: Address) =>
  Effect.flatMap(Transport.Transport, (transport) => transport.connect(address, { timeout: 2000 }))

/**
 * Registers the hostile-peer behaviours for one transport.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (options: HostileConformanceOptions): void => {
  const test = (
    title: string,
    body: () => Effect.Effect<void, unknown, Transport.Transport | Scope.Scope>,
    timeout?: number
  ) => it.scopedLive(title, () => body().pipe(Effect.provide(options.layer)), timeout)

  describe(`hostile peers over ${options.name}`, () => {
    test(
      "a peer that never reads: one write of 1,000 pipelined requests for 256 KiB each is not computed ahead of what it takes; reading later gets every reply",
      () =>
        Effect.gen(function*() {
          let handled = 0
          const handler = ProtocolServer.handlers(Bigs, {
            Get: () => Effect.sync(() => (handled++, BIG))
          })
          const server = yield* ProtocolServer.serve(Bigs, handler, { maxInFlight: 4096 })
          const conn = yield* connect(server.address)
          // about 40 KB asking for 256 MiB of replies
          yield* conn.write(pipelined(1000, (id) => JSON.stringify({ id, request: { _tag: "Get", key: "k" } })))
          yield* Effect.sleep("400 millis")
          // what the socket buffers on both sides hold, plus one write's worth: far from all of it
          const early = handled
          expect(early).toBeGreaterThan(0)
          expect(early).toBeLessThan(100)
          // the server is not stuck: a reader gets every reply, each to its own request
          const framed = Framed.make(conn, lengthField)
          const ids = new Set<number>()
          while (ids.size < 1000) {
            const frame = yield* framed.read
            if (frame === Connection.EOF) break
            const reply = JSON.parse(text.decode(frame)) as { id: number; success: string }
            expect(reply.success.length).toBe(BIG.length)
            ids.add(reply.id)
          }
          expect(ids.size).toBe(1000)
          expect(handled).toBe(1000)
        }),
      30_000
    )

    test(
      "Framed.pump: a peer that never reads and pipelines 1,000 small frames asking for 256 KiB each does not get them all computed; reading later gets every reply",
      () =>
        Effect.gen(function*() {
          const transport = yield* Transport.Transport
          const big = utf8.encode(BIG)
          let handled = 0
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            const framed = Framed.make(conn, lengthField)
            yield* framed.pump((frames) => {
              for (const _ of frames) {
                handled++
                framed.unsafeSend(big)
              }
            })
          })
          const server = yield* Server.serve(yield* transport.listen({ host: "127.0.0.1", port: 0 }), handler)
          const conn = yield* connect(server.address)
          yield* conn.write(pipelined(1000, (id) => String(id)))
          yield* Effect.sleep("400 millis")
          const early = handled
          expect(early).toBeGreaterThan(0)
          expect(early).toBeLessThan(200)
          const framed = Framed.make(conn, lengthField)
          let replies = 0
          while (replies < 1000) {
            const frame = yield* framed.read
            if (frame === Connection.EOF) break
            expect(frame.length).toBe(big.length)
            replies++
          }
          expect(replies).toBe(1000)
          expect(handled).toBe(1000)
        }),
      30_000
    )

    test(
      "peers that each send most of a large message and then nothing: past the server's input budget the others are paused, and every evictAfter the oldest incomplete message's connection is closed; the memory comes back and others are served",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Bigs, { Get: ({ key }) => Effect.succeed(key) })
          const maxBytes = 4 * 1024 * 1024
          // no hard limit in reach: only pausing and evicting the oldest are at work
          const budget = InputBudget.make({ maxBytes, hardBytes: 2 * maxBytes, evictAfter: "300 millis" })
          const server = yield* ProtocolServer.serve(Bigs, handler, { maxBufferedInput: budget })
          // six peers, each a frame that declares 1 MiB and sends 900 KiB of it: 5.4 MB would be held
          const partial = new Uint8Array(4 + 900 * 1024)
          new DataView(partial.buffer).setUint32(0, 1024 * 1024)
          const peers: Array<Connection.Connection> = []
          for (let i = 0; i < 6; i++) {
            const peer = yield* connect(server.address)
            yield* peer.write(partial)
            peers.push(peer)
            // in order, so that "oldest" is the order they connected in
            yield* Effect.sleep("30 millis")
          }
          // until every byte sent is either held or given back by a close
          yield* Effect.repeat(Effect.sync(() => server.stats()), {
            until: (stats) => stats.inputEvictions >= 2 && stats.bufferedInput >= 3 * partial.length - 3 * 4,
            schedule: Schedule.spaced("20 millis")
          }).pipe(Effect.timeoutFail({
            duration: "10 seconds",
            onTimeout: () => new Error(`not settled: ${JSON.stringify(server.stats())}`)
          }))
          const stats = server.stats()
          expect(stats.bufferedInput).toBeLessThanOrEqual(maxBytes)
          expect(stats.inputEvictions).toBe(2)
          expect(budget.pauses()).toBeGreaterThanOrEqual(2)
          // the two oldest were closed: their reads end, the others' do not
          const ended = yield* Effect.forEach(peers, (peer) => closedSoon(peer))
          expect(ended).toEqual([true, true, false, false, false, false])
          // a well-behaved client is served as before
          const conn = yield* connect(server.address)
          yield* conn.write(pipelined(3, (id) => JSON.stringify({ id, request: { _tag: "Get", key: `k${id}` } })))
          const framed = Framed.make(conn, lengthField)
          for (let i = 1; i <= 3; i++) {
            const frame = yield* framed.read
            expect(frame).not.toBe(Connection.EOF)
            expect(JSON.parse(text.decode(frame as Uint8Array))).toEqual({ id: i, success: `k${i}` })
          }
          // when the holders go away their share goes back
          for (const peer of peers) yield* peer.abort
          yield* Effect.repeat(Effect.sync(() => server.stats().bufferedInput), {
            until: (held) => held === 0,
            schedule: Schedule.spaced("20 millis")
          }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("input not given back") }))
        }),
      30_000
    )

    test(
      "a reader paused by a spent input budget is read again when another's message completes, and its own request is answered: nobody was closed",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Bigs, { Get: ({ key }) => Effect.succeed(String(key.length)) })
          const maxBytes = 2 * 1024 * 1024
          const budget = InputBudget.make({ maxBytes, hardBytes: 2 * maxBytes, evictAfter: "1 hour" })
          const server = yield* ProtocolServer.serve(Bigs, handler, { maxBufferedInput: budget })
          const request = (id: number, size: number) => {
            const body = utf8.encode(JSON.stringify({ id, request: { _tag: "Get", key: "k".repeat(size) } }))
            const frame = new Uint8Array(4 + body.length)
            new DataView(frame.buffer).setUint32(0, body.length)
            frame.set(body, 4)
            return frame
          }
          // A holds 1.5 MiB of its request, then B sends all of a 1.5 MiB one: the budget cannot hold both
          const a = yield* connect(server.address)
          const b = yield* connect(server.address)
          const big = 1536 * 1024
          const frameA = request(1, big)
          yield* a.write(frameA.subarray(0, frameA.length - 1))
          yield* Effect.repeat(Effect.sync(() => server.stats().bufferedInput), {
            until: (held) => held >= frameA.length - 1,
            schedule: Schedule.spaced("10 millis")
          }).pipe(Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("A's bytes not held") }))
          // B's first megabyte, alone in its read (a transport may hand a whole write over as one chunk)
          const frameB = request(1, big)
          yield* b.write(frameB.subarray(0, 1024 * 1024))
          yield* Effect.repeat(Effect.sync(() => budget.pauses()), {
            until: (n) => n >= 1,
            schedule: Schedule.spaced("10 millis")
          }).pipe(Effect.timeoutFail({
            duration: "5 seconds",
            onTimeout: () => new Error(`B not paused: ${JSON.stringify(server.stats())}`)
          }))
          expect(server.stats().bufferedInput).toBeLessThanOrEqual(2 * maxBytes)
          // the rest of B waits unread; A completes: its message leaves the budget, B is read again, both are answered
          yield* Effect.fork(b.write(frameB.subarray(1024 * 1024)).pipe(Effect.ignore))
          yield* a.write(frameA.subarray(frameA.length - 1))
          for (const conn of [a, b]) {
            const reply = yield* Framed.make(conn, lengthField).read
            expect(reply).not.toBe(Connection.EOF)
            expect(JSON.parse(text.decode(reply as Uint8Array))).toEqual({ id: 1, success: String(big) })
          }
          expect(server.stats().inputEvictions).toBe(0)
        }),
      30_000
    )

    test(
      "a peer that sends part of a message and then trickles bytes is closed once a readTimeout window passes below minReadRate",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Bigs, { Get: ({ key }) => Effect.succeed(key) })
          const server = yield* ProtocolServer.serve(Bigs, handler, { readTimeout: "300 millis", minReadRate: 200 })
          const conn = yield* connect(server.address)
          const body = utf8.encode(JSON.stringify({ id: 1, request: { _tag: "Get", key: "k".repeat(200) } }))
          const frame = new Uint8Array(4 + body.length)
          new DataView(frame.buffer).setUint32(0, body.length)
          frame.set(body, 4)
          // the header and a few bytes, then one byte every 40 ms (25 bytes/s): never complete in time
          yield* conn.write(frame.subarray(0, 10))
          const trickle = yield* Effect.fork(
            Effect.forEach(
              Array.from({ length: 100 }, (_, i) => i),
              (i) => Effect.zipRight(Effect.sleep("40 millis"), conn.write(frame.subarray(10 + i, 11 + i))),
              { discard: true }
            ).pipe(Effect.ignore)
          )
          expect(yield* closedSoon(conn, "5 seconds")).toBe(true)
          yield* trickle.await
          expect(server.stats().slowReads).toBe(1)
        }),
      30_000
    )

    test(
      "idle means no bytes: a large message arriving steadily over several idle timeouts is answered, and a silent peer is closed",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Bigs, { Get: ({ key }) => Effect.succeed(key.length.toString()) })
          const server = yield* ProtocolServer.serve(Bigs, handler, {
            idleTimeout: "200 millis",
            readTimeout: "200 millis",
            minReadRate: 1024
          })
          const conn = yield* connect(server.address)
          const body = utf8.encode(JSON.stringify({ id: 1, request: { _tag: "Get", key: "k".repeat(100_000) } }))
          const frame = new Uint8Array(4 + body.length)
          new DataView(frame.buffer).setUint32(0, body.length)
          frame.set(body, 4)
          // 10 KB every 50 ms (200 KB/s) for about half a second: no frame is complete before the end
          for (let at = 0; at < frame.length; at += 10_000) {
            yield* conn.write(frame.subarray(at, Math.min(frame.length, at + 10_000)))
            yield* Effect.sleep("50 millis")
          }
          const framed = Framed.make(conn, lengthField)
          const reply = yield* framed.read
          expect(reply).not.toBe(Connection.EOF)
          expect(JSON.parse(text.decode(reply as Uint8Array))).toEqual({ id: 1, success: "100000" })
          expect(server.stats().slowReads).toBe(0)
          // then silence: closed after the idle timeout
          expect(yield* closedSoon(conn, "3 seconds")).toBe(true)
        }),
      30_000
    )

    test(
      "shutdown: requests received and not started are refused with ShuttingDown, each one, before the connection closes",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Bigs, {
            Get: ({ key }) => Effect.as(Effect.sleep("300 millis"), key)
          })
          const server = yield* ProtocolServer.serve(Bigs, handler, { maxInFlight: 1 })
          const conn = yield* connect(server.address)
          // a second peer, idle when the shutdown starts, whose requests are on their way just after
          const late = yield* connect(server.address)
          // twenty pipelined requests: the first runs, the rest wait (one at a time), some still in the socket
          yield* conn.write(pipelined(20, (id) => JSON.stringify({ id, request: { _tag: "Get", key: `k${id}` } })))
          yield* Effect.sleep("100 millis")
          const shutdown = yield* Effect.fork(server.shutdown("5 seconds"))
          yield* Effect.sleep("20 millis")
          yield* late.write(pipelined(5, (id) => JSON.stringify({ id, request: { _tag: "Get", key: `late${id}` } })))
            .pipe(Effect.ignore)
          const lateFramed = Framed.make(late, lengthField)
          const lateReplies: Array<{ id: number; fault?: { reason: string } }> = []
          while (true) {
            const frame = yield* lateFramed.read.pipe(Effect.catchAll(() => Effect.succeed(Connection.EOF)))
            if (frame === Connection.EOF) break
            const reply = JSON.parse(text.decode(frame))
            if (reply.id !== undefined) lateReplies.push(reply)
          }
          expect(lateReplies.map((r) => [r.id, r.fault?.reason])).toEqual(
            [1, 2, 3, 4, 5].map((id) => [id, "ShuttingDown"])
          )
          const framed = Framed.make(conn, lengthField)
          const replies: Array<{ id: number; success?: string; fault?: { reason: string } }> = []
          while (true) {
            const frame = yield* framed.read.pipe(Effect.catchAll(() => Effect.succeed(Connection.EOF)))
            if (frame === Connection.EOF) break
            const reply = JSON.parse(text.decode(frame))
            if (reply.id !== undefined) replies.push(reply)
          }
          // every request has its reply: the one running was answered, the others refused
          expect(replies.map((r) => r.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
          expect(replies.find((r) => r.id === 1)).toEqual({ id: 1, success: "k1" })
          expect(replies.filter((r) => r.fault !== undefined).every((r) => r.fault!.reason === "ShuttingDown")).toBe(
            true
          )
          expect(replies.filter((r) => r.fault !== undefined).length).toBe(19)
          const result = yield* shutdown.await
          expect(result._tag === "Success" && result.value.drained).toBe(true)
        }),
      30_000
    )

    test("one peer alone past the input budget is closed with a typed error", () =>
      Effect.gen(function*() {
        const handler = ProtocolServer.handlers(Bigs, { Get: ({ key }) => Effect.succeed(key) })
        const server = yield* ProtocolServer.serve(Bigs, handler, { maxBufferedInput: 1024 * 1024 })
        const conn = yield* connect(server.address)
        // a frame within the codec's limit (8 MiB) but past the whole server's budget
        const partial = new Uint8Array(4 + 2 * 1024 * 1024)
        new DataView(partial.buffer).setUint32(0, 4 * 1024 * 1024)
        yield* conn.write(partial).pipe(Effect.ignore)
        expect(yield* closedSoon(conn, "10 seconds")).toBe(true)
        expect(server.stats().inputEvictions).toBe(1)
        expect(server.stats().bufferedInput).toBe(0)
      }), 30_000)
  })
}
