/**
 * The kv server in process, on the in-memory transport: multiplexing by id
 * (a slow Wait does not hold up what follows it), typed errors, and the
 * handler's fast path.
 */
import { describe, it } from "@effect/vitest"
import { Client, Connection, Framed, LengthField, MemoryTransport, Transport } from "@wirekit/core"
import { Duration, Effect, Fiber, Layer, Logger, LogLevel, Option } from "effect"
import { expect } from "vitest"
import * as Kv from "../src/Kv.ts"
import * as KvServer from "../src/Server.ts"

/** An isolated in-memory network, with Info logs silenced. */
const network = Layer.merge(MemoryTransport.layer(), Logger.minimumLogLevel(LogLevel.Warning))

const within = (ms: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: Duration.millis(ms), onTimeout: () => new Error(`still running after ${ms}ms`) })

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
      expect(yield* read.pipe(within(1000))).toEqual({ id: 2, success: { _tag: "Value", value: null } })
      yield* send(3, { _tag: "Set", key: "door", value: "open" })
      const answers = [yield* read.pipe(within(1000)), yield* read.pipe(within(1000))]
      expect(answers.sort((a, b) => a.id - b.id)).toEqual([
        { id: 1, success: { _tag: "Value", value: "open" } },
        { id: 3, success: { _tag: "Stored" } }
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
      expect(yield* read.pipe(within(1000))).toEqual({ id: 6, success: { _tag: "Value", value: "open" } })
    }).pipe(Effect.provide(network)))

  it.scopedLive("with the typed client: a Get completes while an earlier Wait on the same connection is pending", () =>
    Effect.gen(function*() {
      const { server, store } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "5 seconds" })
      const waiting = yield* Effect.fork(kv.request({ _tag: "Wait", key: "job", timeoutMs: 10_000 }))
      yield* Effect.sleep("20 millis")
      expect(store.waiting()).toBe(1)
      expect(yield* kv.request({ _tag: "Get", key: "job" }).pipe(within(1000))).toEqual({ _tag: "Value", value: null })
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
      expect(kv.stats().pending).toBe(1)
      expect(yield* kv.request({ _tag: "Set", key: "job", value: "done" })).toEqual({ _tag: "Stored" })
      expect(yield* Fiber.join(waiting).pipe(within(1000))).toEqual({ _tag: "Value", value: "done" })
      expect(store.waiting()).toBe(0)
      // a Wait that times out answers null; one on an existing key answers at once
      expect(yield* kv.request({ _tag: "Wait", key: "never", timeoutMs: 30 })).toEqual({ _tag: "Value", value: null })
      expect(yield* kv.request({ _tag: "Wait", key: "job", timeoutMs: 10_000 }).pipe(within(1000))).toEqual({ _tag: "Value", value: "done" })
      expect(store.waiting()).toBe(0)
    }).pipe(Effect.provide(network)))

  it.scopedLive("typed errors arrive as their classes; the link stays usable", () =>
    Effect.gen(function*() {
      const { server } = yield* KvServer.serve({ host: "127.0.0.1", port: 0, maxKeyLength: 8, maxValueSize: 16, maxKeys: 3 })
      const kv = yield* Client.make(Kv.Kv, server.address, { requestTimeout: "2 seconds" })

      const long = yield* Effect.flip(kv.request({ _tag: "Get", key: "ééééé" })) // 10 bytes
      expect(long).toBeInstanceOf(Kv.KeyTooLong)
      expect(long).toMatchObject({ length: 10, max: 8 })
      expect((long as Kv.KeyTooLong).message).toBe("key is 10 bytes, the limit is 8")

      const large = yield* Effect.flip(kv.request({ _tag: "Set", key: "k", value: "😀😀😀😀😀" })) // 20 bytes
      expect(large).toBeInstanceOf(Kv.ValueTooLarge)
      expect(large).toMatchObject({ size: 20, max: 16 })

      yield* kv.request({ _tag: "Set", key: "word", value: "abc" })
      expect(yield* Effect.flip(kv.request({ _tag: "Incr", key: "word", by: 1 }))).toBeInstanceOf(Kv.NotAnInteger)
      expect(yield* kv.request({ _tag: "Incr", key: "n", by: 5 })).toEqual({ _tag: "Counter", value: 5 })
      expect(yield* kv.request({ _tag: "Incr", key: "n", by: -7 })).toEqual({ _tag: "Counter", value: -2 })
      yield* kv.request({ _tag: "Set", key: "n2", value: "9007199254740991" })
      expect(yield* Effect.flip(kv.request({ _tag: "Incr", key: "n2", by: 1 }))).toBeInstanceOf(Kv.NotAnInteger)

      // 3 keys held: a 4th is refused, replacing one is fine
      const full = yield* Effect.flip(kv.request({ _tag: "Set", key: "more", value: "x" }))
      expect(full).toBeInstanceOf(Kv.StoreFull)
      expect(yield* kv.request({ _tag: "Set", key: "word", value: "xyz" })).toEqual({ _tag: "Stored" })

      // the typed client validates with the same schema: an out-of-range Wait is not even sent
      const bad = yield* Effect.flip(kv.request({ _tag: "Wait", key: "k", timeoutMs: 999_999 }))
      expect(bad).toBeInstanceOf(Client.ClientError)
      expect((bad as Client.ClientError).reason).toBe("Encode")

      expect(yield* kv.request({ _tag: "Keys" })).toEqual({ _tag: "KeyList", keys: ["n", "n2", "word"], more: false })
      expect(yield* kv.request({ _tag: "Keys", prefix: "n", limit: 1 })).toEqual({ _tag: "KeyList", keys: ["n"], more: true })
      expect(yield* kv.request({ _tag: "Del", key: "n" })).toEqual({ _tag: "Deleted", existed: true })
      expect(yield* kv.request({ _tag: "Del", key: "n" })).toEqual({ _tag: "Deleted", existed: false })
    }).pipe(Effect.provide(network)))

  it.scopedLive("every command but a waiting Wait takes the fast path (no fiber per request), on a pool of 3 connections", () =>
    Effect.gen(function*() {
      const { server } = yield* KvServer.serve({ host: "127.0.0.1", port: 0 })
      const kv = yield* Client.make(Kv.Kv, server.address, { pool: { size: 3 } })
      yield* Effect.forEach(
        Array.from({ length: 300 }, (_, i) => i),
        (i) => kv.request(i % 3 === 0 ? { _tag: "Set", key: `k${i % 10}`, value: `${i}` } : { _tag: "Get", key: `k${i % 10}` }),
        { concurrency: 50, discard: true }
      )
      yield* kv.request({ _tag: "Wait", key: "absent", timeoutMs: 10 })
      expect(server.stats().successes).toBe(301)
      expect(server.stats().forked).toBe(1)
      expect(server.stats().active).toBe(3)
    }).pipe(Effect.provide(network)))
})

describe("the store", () => {
  it("counts UTF-8 bytes like TextEncoder", () => {
    for (const s of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "x\udc00y", "\ud800\ud800"]) {
      expect(KvServer.utf8Length(s)).toBe(utf8.encode(s).length)
    }
  })
})
