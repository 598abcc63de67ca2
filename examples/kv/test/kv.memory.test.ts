/**
 * The kv server in process, on the in-memory transport: multiplexing by id
 * (a slow Wait does not hold up what follows it), typed errors per method,
 * the handler's fast path, and Scan's stream (order, prefix, snapshot, flow
 * control and cancellation).
 */
import { describe, it } from "@effect/vitest"
import { Client, Connection, Framed, LengthField, MemoryTransport, Protocol, Transport } from "@wirekit/core"
import { Chunk, Duration, Effect, Either, Fiber, Layer, Logger, LogLevel, Option, Stream } from "effect"
import { expect } from "vitest"
import * as Kv from "../src/Kv.ts"
import * as KvServer from "../src/Server.ts"

/** An isolated in-memory network, with Info logs silenced. */
const network = Layer.merge(MemoryTransport.layer(), Logger.minimumLogLevel(LogLevel.Warning))

const within = (ms: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: Duration.millis(ms),
    onTimeout: () => new Error(`still running after ${ms}ms`)
  })

const utf8 = new TextEncoder()
const text = new TextDecoder()

describe("kv on the memory transport", () => {
  it.scopedLive("on the wire: responses leave as each request completes, matched by id (Wait #1 answered last); bad requests get a BadRequest fault", () =>
    Effect.gen(function*() {
      const { server } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const transport = yield* Transport.Transport
      const conn = yield* transport.connect(server.address, { timeout: 2000 })
      const framed = Framed.make(conn, LengthField.make({ fieldLength: 4 }))
      const send = (id: number, request: unknown) => framed.send(utf8.encode(JSON.stringify({ id, request })))
      const read = Effect.map(framed.read, (f) => (f === Connection.EOF ? "EOF" : JSON.parse(text.decode(f))))

      yield* send(1, { _tag: "Wait", key: "door", timeoutMs: 5000 })
      yield* send(2, { _tag: "Get", key: "door" })
      // #2 is answered while #1 is still waiting: with in-order responses it would wait 5 s behind it
      expect(yield* read.pipe(within(1000))).toEqual({ id: 2, success: null })
      yield* send(3, { _tag: "Set", key: "door", value: "open" })
      const answers = [yield* read.pipe(within(1000)), yield* read.pipe(within(1000))]
      expect(answers.sort((a, b) => a.id - b.id)).toEqual([
        { id: 1, success: "open" },
        { id: 3, success: null } // Set's void travels as null
      ])
      // a request the schema refuses is answered with a BadRequest fault under its id; the next one is fine
      yield* send(4, { _tag: "Wait", key: "door", timeoutMs: 999_999 })
      yield* send(5, { _tag: "Get", key: 42 })
      yield* send(6, { _tag: "Get", key: "door" })
      const four = yield* read.pipe(within(1000))
      expect(four.id).toBe(4)
      expect(four.fault.reason).toBe("BadRequest")
      expect(four.fault.detail).toMatch(/20000/)
      const five = yield* read.pipe(within(1000))
      expect([five.id, five.fault.reason]).toEqual([5, "BadRequest"])
      expect(yield* read.pipe(within(1000))).toEqual({ id: 6, success: "open" })
    }).pipe(Effect.provide(network)))

  it.scopedLive("with the typed client: a Get completes while an earlier Wait on the same connection is pending", () =>
    Effect.gen(function*() {
      const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "5 seconds" })
      const waiting = yield* Effect.fork(kv.request(Kv.Wait({ key: "job", timeoutMs: 10_000 })))
      yield* Effect.sleep("20 millis")
      expect(store.waiting()).toBe(1)
      expect(yield* kv.request(Kv.Get({ key: "job" })).pipe(within(1000))).toBe(null)
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      expect(kv.stats().pending).toBe(1)
      expect(yield* kv.request(Kv.Set({ key: "job", value: "done" }))).toBe(undefined)
      expect(yield* Fiber.join(waiting).pipe(within(1000))).toBe("done")
      expect(store.waiting()).toBe(0)
      // a Wait that times out answers null; one on an existing key answers at once
      expect(yield* kv.request(Kv.Wait({ key: "never", timeoutMs: 30 }))).toBe(null)
      expect(yield* kv.request(Kv.Wait({ key: "job", timeoutMs: 10_000 })).pipe(within(1000))).toBe("done")
      expect(store.waiting()).toBe(0)
    }).pipe(Effect.provide(network)))

  it.scopedLive("typed errors arrive as their classes; the link stays usable", () =>
    Effect.gen(function*() {
      const { server } = yield* KvServer.serve({
        host: "127.0.0.1",
        port: 0,
        maxKeyLength: 8,
        maxValueSize: 16,
        maxKeys: 3
      })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "2 seconds" })

      const long = yield* Effect.flip(kv.request(Kv.Get({ key: "ééééé" }))) // 10 bytes
      expect(long).toBeInstanceOf(Kv.KeyTooLong)
      expect(long).toMatchObject({ length: 10, max: 8 })
      expect(long.message).toBe("key is 10 bytes, the limit is 8")

      const large = yield* Effect.flip(kv.request(Kv.Set({ key: "k", value: "😀😀😀😀😀" }))) // 20 bytes
      expect(large).toBeInstanceOf(Kv.ValueTooLarge)
      expect(large).toMatchObject({ size: 20, max: 16 })

      yield* kv.request(Kv.Set({ key: "word", value: "abc" }))
      expect(yield* Effect.flip(kv.request(Kv.Incr({ key: "word", by: 1 })))).toBeInstanceOf(Kv.NotAnInteger)
      expect(yield* kv.request(Kv.Incr({ key: "n", by: 5 }))).toBe(5)
      expect(yield* kv.request(Kv.Incr({ key: "n", by: -7 }))).toBe(-2)
      yield* kv.request(Kv.Set({ key: "n2", value: "9007199254740991" }))
      expect(yield* Effect.flip(kv.request(Kv.Incr({ key: "n2", by: 1 })))).toBeInstanceOf(Kv.NotAnInteger)

      // 3 keys held: a 4th is refused, replacing one is fine
      const full = yield* Effect.flip(kv.request(Kv.Set({ key: "more", value: "x" })))
      expect(full).toBeInstanceOf(Kv.StoreFull)
      expect(yield* kv.request(Kv.Set({ key: "word", value: "xyz" }))).toBe(undefined)
      expect(yield* kv.request(Kv.Get({ key: "word" }))).toBe("xyz")

      // the typed client validates with the same schema: an out-of-range Wait is not even sent
      const bad = yield* Effect.flip(kv.request(Kv.Wait({ key: "k", timeoutMs: 999_999 })))
      expect(bad).toBeInstanceOf(Client.ClientError)
      expect((bad as Client.ClientError).reason).toBe("Encode")

      expect(yield* kv.request(Kv.Keys())).toEqual({ keys: ["n", "n2", "word"], more: false })
      expect(yield* kv.request(Kv.Keys({ prefix: "n", limit: 1 }))).toEqual({ keys: ["n"], more: true })
      expect(yield* kv.request(Kv.Del({ key: "n" }))).toBe(true)
      expect(yield* kv.request(Kv.Del({ key: "n" }))).toBe(false)

      // Scan: a prefix over the key limit fails the stream with KeyTooLong, before any item
      const scanned = yield* Effect.flip(Stream.runCollect(kv.stream(Kv.Scan({ prefix: "ééééé" }))))
      expect(scanned).toBeInstanceOf(Kv.KeyTooLong)
      expect(scanned).toMatchObject({ length: 10, max: 8 })
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(kv.stream(Kv.Scan({ prefix: "n" }))))).toEqual([
        { key: "n2", value: "9007199254740991" }
      ])
    }).pipe(Effect.provide(network)))

  it.scopedLive("every command but a waiting Wait takes the fast path (no fiber per request), on a pool of 3 connections", () =>
    Effect.gen(function*() {
      const { server } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { pool: { size: 3 } })
      yield* Effect.forEach(
        Array.from({ length: 300 }, (_, i) => i),
        (i) =>
          i % 3 === 0
            ? kv.request(Kv.Set({ key: `k${i % 10}`, value: `${i}` }))
            : kv.request(Kv.Get({ key: `k${i % 10}` })),
        { concurrency: 50, discard: true }
      )
      yield* kv.request(Kv.Wait({ key: "absent", timeoutMs: 10 }))
      expect(server.stats().successes).toBe(301)
      expect(server.stats().forked).toBe(1)
      expect(server.stats().active).toBe(3)
    }).pipe(Effect.provide(network)))

  it.scopedLive("Scan streams the entries with a prefix in key order, from a snapshot, while other requests share the connection", () =>
    Effect.gen(function*() {
      const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "2 seconds" })
      const scan = (prefix?: string) =>
        Effect.map(Stream.runCollect(kv.stream(Kv.Scan(prefix === undefined ? {} : { prefix }))), Chunk.toReadonlyArray)
      yield* Effect.forEach(
        ["c:2", "c:10", "d:1", "c", "c:1", "é:1"],
        (key) => kv.request(Kv.Set({ key, value: `v${key}` })),
        {
          discard: true
        }
      )
      // key order is string order ("c:10" before "c:2"); the prefix is a plain prefix ("c" itself matches "c")
      expect(yield* scan("c:")).toEqual([
        { key: "c:1", value: "vc:1" },
        { key: "c:10", value: "vc:10" },
        { key: "c:2", value: "vc:2" }
      ])
      expect((yield* scan()).map((e) => e.key)).toEqual(["c", "c:1", "c:10", "c:2", "d:1", "é:1"])
      expect((yield* scan("c")).map((e) => e.key)).toEqual(["c", "c:1", "c:10", "c:2"])
      expect(yield* scan("zzz")).toEqual([])

      // a snapshot: writes after the scan starts do not show in it, even in the part not read yet
      for (let i = 0; i < 10_000; i++) store.set(`s:${String(i).padStart(5, "0")}`, `${i}`)
      const pull = yield* Stream.toPull(kv.stream(Kv.Scan({ prefix: "s:" })))
      const read = [...Chunk.toReadonlyArray(yield* pull)]
      expect(read.length).toBeGreaterThan(0)
      expect(read.length).toBeLessThan(10_000)
      expect(store.scanning()).toBe(1)
      // requests on the same connection are answered while the stream is open (and paused: nothing is pulled)
      expect(yield* kv.request(Kv.Del({ key: "s:09999" })).pipe(within(1000))).toBe(true)
      yield* kv.request(Kv.Set({ key: "s:99999", value: "new" })).pipe(within(1000))
      yield* kv.request(Kv.Set({ key: "s:09998", value: "changed" })).pipe(within(1000))
      for (;;) {
        const next = yield* Effect.either(pull)
        if (Either.isLeft(next)) {
          expect(Option.isNone(next.left)).toBe(true) // the end, not a failure
          break
        }
        read.push(...Chunk.toReadonlyArray(next.right))
      }
      expect(read.length).toBe(10_000)
      expect(read.map((e) => e.key)).toEqual(
        Array.from({ length: 10_000 }, (_, i) => `s:${String(i).padStart(5, "0")}`)
      )
      expect(read.at(-2)).toEqual({ key: "s:09998", value: "9998" })
      // the server released its snapshot before it sent the end
      expect(store.scanning()).toBe(0)
      // a new scan sees the writes
      const now = yield* scan("s:")
      expect(now.length).toBe(10_000)
      expect(now.slice(-2)).toEqual([{ key: "s:09998", value: "changed" }, { key: "s:99999", value: "new" }])
    }).pipe(Effect.provide(network)))

  it.scopedLive("a large store streamed to a reader that stops early: Stream.take gets the first N, the server's stream is cancelled", () =>
    Effect.gen(function*() {
      const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "2 seconds" })
      const n = 50_000
      const key = (i: number) => `big:${String(i).padStart(5, "0")}`
      for (let i = n - 1; i >= 0; i--) store.set(key(i), `${i}`)
      const first = yield* Stream.runCollect(Stream.take(kv.stream(Kv.Scan({ prefix: "big:" })), 10)).pipe(within(2000))
      expect(Chunk.toReadonlyArray(first)).toEqual(
        Array.from({ length: 10 }, (_, i) => ({ key: key(i), value: `${i}` }))
      )
      // the reader is gone: the client sends a cancel, the server interrupts the stream and releases its snapshot
      for (let i = 0; i < 100 && server.stats().cancelled === 0; i++) yield* Effect.sleep("10 millis")
      expect(server.stats().cancelled).toBe(1)
      expect(store.scanning()).toBe(0)
      expect(server.stats().successes).toBe(0) // it never reached its end
      expect(kv.stats().pending).toBe(0)
      // the connection goes on; a full read gets all of it, in order, through many windows of acks
      expect(yield* kv.request(Kv.Get({ key: key(7) }))).toBe("7")
      const count = yield* Stream.runFold(kv.stream(Kv.Scan({ prefix: "big:" })), 0, (i, entry) => {
        if (entry.key !== key(i)) throw new Error(`item ${i} is ${entry.key}`)
        return i + 1
      }).pipe(within(10_000))
      expect(count).toBe(n)
      expect(server.stats().successes).toBe(2)
      expect(server.stats().cancelled).toBe(1)
    }).pipe(Effect.provide(network)))

  it.scopedLive("Scan on the wire: chunks, at most a window ahead of the acks; an ack lets that many more out; cancel stops it; end; failure", () =>
    Effect.gen(function*() {
      const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0, maxKeyLength: 16 })
      for (let i = 0; i < 20_000; i++) store.set(`w:${String(i).padStart(5, "0")}`, "x")
      store.set("few:a", "1")
      store.set("few:b", "2")
      const transport = yield* Transport.Transport
      const conn = yield* transport.connect(server.address, { timeout: 2000 })
      const framed = Framed.make(conn, LengthField.make({ fieldLength: 4 }))
      const send = (message: object) => framed.send(utf8.encode(JSON.stringify(message)))
      // everything the server sends, as it arrives (read all along: only the missing acks hold the server back)
      const frames: Array<any> = []
      yield* Effect.forkScoped(Effect.gen(function*() {
        for (let f = yield* framed.read; f !== Connection.EOF; f = yield* framed.read) {
          frames.push(JSON.parse(text.decode(f)))
        }
      }))
      /** Waits for `count` frames, then a little more: nothing else must come. */
      const settle = (count: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 100 && frames.length < count; i++) yield* Effect.sleep("10 millis")
          yield* Effect.sleep("150 millis")
        })

      yield* send({ id: 1, request: { _tag: "Scan", prefix: "w:" } })
      yield* settle(Protocol.STREAM_WINDOW)
      expect(frames.length).toBe(Protocol.STREAM_WINDOW)
      const items = (from: number) => frames.slice(from).flatMap((f) => f.chunk)
      for (const frame of frames) {
        expect(frame.id).toBe(1)
        expect(frame.chunk.length).toBeGreaterThan(0)
        expect(frame.chunk.length).toBeLessThanOrEqual(Protocol.STREAM_CHUNK_ITEMS)
      }
      const sent = items(0)
      expect(sent.length).toBeLessThan(20_000)
      expect(sent.map((e) => e.key)).toEqual(
        Array.from({ length: sent.length }, (_, i) => `w:${String(i).padStart(5, "0")}`)
      )
      expect(sent[0]).toEqual({ key: "w:00000", value: "x" })

      // 4 chunks acknowledged: 4 more, continuing where it stopped
      yield* send({ id: 1, ack: 4 })
      yield* settle(Protocol.STREAM_WINDOW + 4)
      expect(frames.length).toBe(Protocol.STREAM_WINDOW + 4)
      expect(items(Protocol.STREAM_WINDOW)[0].key).toBe(`w:${String(sent.length).padStart(5, "0")}`)

      // cancelled: no end, no failure; the server's stream is interrupted and its snapshot released
      yield* send({ id: 1, cancel: true })
      for (let i = 0; i < 100 && server.stats().cancelled === 0; i++) yield* Effect.sleep("10 millis")
      expect(server.stats().cancelled).toBe(1)
      yield* settle(0)
      expect(frames.length).toBe(Protocol.STREAM_WINDOW + 4)
      expect(store.scanning()).toBe(0)

      // a short scan: one chunk, then its end; a prefix over the key limit: the method's typed failure
      frames.length = 0
      yield* send({ id: 2, request: { _tag: "Scan", prefix: "few:" } })
      yield* settle(2)
      expect(frames).toEqual([{ id: 2, chunk: [{ key: "few:a", value: "1" }, { key: "few:b", value: "2" }] }, {
        id: 2,
        end: true
      }])
      frames.length = 0
      yield* send({ id: 3, request: { _tag: "Scan", prefix: "p".repeat(17) } })
      yield* settle(1)
      expect(frames).toEqual([{ id: 3, failure: { _tag: "KeyTooLong", length: 17, max: 16 } }])
    }).pipe(Effect.provide(network)))
})

describe("the store", () => {
  it("counts UTF-8 bytes like TextEncoder", () => {
    for (const s of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "\ud800\ud800"]) {
      expect(KvServer.utf8Length(s)).toBe(utf8.encode(s).length)
    }
  })
})
