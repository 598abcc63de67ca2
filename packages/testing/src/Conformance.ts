/**
 * The transport conformance suite: one function that registers every
 * behaviour test of the transport contract against a transport Layer. Every
 * adapter (node, bun, deno, memory) runs exactly this suite, over real
 * sockets on 127.0.0.1 port 0 (or the in-memory network).
 *
 * @example
 * ```ts
 * // packages/node/test/conformance.test.ts
 * import { Conformance, Blackhole } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * Conformance.run({ name: "node", layer: NodeTransport.layer, blackhole: Blackhole.process })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Address as Address$ } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Server } from "@wirekit/core"
import type { Layer } from "effect"
import { Deferred, Duration, Effect, Exit, Fiber, Random, Scope } from "effect"
import { expect } from "vitest"
import * as FramedConformance from "./FramedConformance.ts"
import {
  dec,
  echoHandler,
  enc,
  jitter,
  randomBytes,
  resetFromProcess,
  sameBytes,
  settle,
  writeParts,
  writeRandomly
} from "./internal.ts"
import * as PlatformConformance from "./PlatformConformance.ts"
const format = Address$.format
const isTcp = Address$.isTcp
type Address = Address$.Address
const Transport = Transport$.Transport
type Transport = Transport$.Transport
type TransportService = Transport$.TransportService

/**
 * What an adapter passes to {@link run}.
 *
 * @since 0.1.0
 * @category options
 */
export interface ConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The transport under test. */
  readonly layer: Layer.Layer<Transport>
  /**
   * An address where a connect attempt hangs (the peer drops the SYN), for the
   * connect-timeout behaviour: `Blackhole.backlog` (memory) or `Blackhole.process` (real sockets).
   */
  readonly blackhole: Effect.Effect<Address, unknown, Scope.Scope | Transport>
  /** A fresh Unix socket path. Default: a random name under /tmp. */
  readonly unixPath?: () => string
  /** Loopback host. Default "127.0.0.1". */
  readonly host?: string
  /** Also test IPv6 loopback ([::1]). Default true. */
  readonly ipv6?: boolean
  /**
   * The most bytes the runtime hands over in one read callback (64 KiB on
   * Node; Bun reads up to 512 KiB at once). Buffer bounds are stated as
   * high-water mark + one read. Default 64 KiB.
   */
  readonly maxReadSize?: number
  /**
   * Real sockets: also reset peers from a helper process (python3), whose
   * resets reach the kernel before the server accepts them (a runtime may then
   * report a connection without a peer address, or fail `accept`). Default false.
   */
  readonly processPeers?: boolean
}

/**
 * Registers every behaviour test of the transport contract.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (options: ConformanceOptions): void => {
  const host = options.host ?? "127.0.0.1"
  const maxRead = options.maxReadSize ?? 64 * 1024
  const any: Address = { host, port: 0 }
  const unixPath = options.unixPath ??
    (() => `/tmp/wirekit-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.sock`)
  const withT = <A, E>(f: (t: TransportService) => Effect.Effect<A, E, Scope.Scope | Transport>) =>
    Effect.provide(Effect.flatMap(Transport, f), options.layer)

  describe(`transport conformance: ${options.name}`, () => {
    it.scopedLive("listen on port 0 reports the real port, and it accepts connections", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          expect(isTcp(l.address)).toBe(true)
          const port = (l.address as { port: number }).port
          expect(port).toBeGreaterThan(0)
          const c = yield* t.connect({ host, port }, { timeout: 2000 })
          const s = yield* l.accept
          expect(s.remoteAddress).toEqual(c.localAddress)
        })
      ))

    it.scopedLive("address in use is a ListenError with reason AddressInUse, the address and the code", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const err = yield* Effect.flip(t.listen(l.address))
          expect(err._tag).toBe("ListenError")
          expect(err.reason).toBe("AddressInUse")
          expect(err.address).toEqual(l.address)
          expect(err.code).toBe("EADDRINUSE")
        })
      ))

    it.scopedLive("connection refused is a ConnectError with reason Refused", () =>
      withT((t) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const l = yield* Scope.extend(t.listen(any), scope)
          yield* Scope.close(scope, Exit.void)
          const err = yield* Effect.flip(t.connect(l.address, { timeout: 2000 }))
          expect(err._tag).toBe("ConnectError")
          expect(err.reason).toBe("Refused")
          expect(err.address).toEqual(l.address)
        })
      ))

    it.scopedLive("connect times out with reason TimedOut after the timeout", () =>
      withT((t) =>
        Effect.gen(function*() {
          const target = yield* options.blackhole
          // a full backlog may still let a few attempts through: try a few times
          for (let i = 0; i < 8; i++) {
            const start = Date.now()
            const exit = yield* Effect.exit(t.connect(target, { timeout: 300 }))
            if (Exit.isFailure(exit)) {
              const err = yield* Effect.flip(exit)
              expect(err.reason).toBe("TimedOut")
              expect(err.timeout).toBe(300)
              expect(Date.now() - start).toBeGreaterThanOrEqual(250)
              return
            }
          }
          expect.fail("every connect to the blackhole succeeded")
        })
      ))

    it.scopedLive("1 MiB of random bytes is echoed byte-exact, written and read in random chunks", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* Server.serve(yield* t.listen(any), echoHandler)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const data = randomBytes(1024 * 1024, 42)
          const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 70_000), c.end))
          const got = yield* Connection.readAll(c)
          yield* Fiber.join(writer)
          expect(got.length).toBe(data.length)
          expect(sameBytes(got, data)).toBe(true)
        })
      ))

    it.scopedLive("200 concurrent connections each echo their own data with no cross-talk", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* Server.serve(yield* t.listen(any, { backlog: 511 }), echoHandler)
          const results = yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) =>
              Effect.scoped(Effect.gen(function*() {
                const c = yield* t.connect(server.address, { timeout: 5000 })
                const data = randomBytes(8 * 1024 + i, i + 1)
                const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 3000), c.end))
                const got = yield* Connection.readAll(c)
                yield* Fiber.join(writer)
                return sameBytes(got, data)
              })),
            { concurrency: "unbounded" }
          )
          expect(results.filter((ok) => !ok).length).toBe(0)
          expect(server.accepted()).toBe(200)
        })
      ))

    it.scopedLive("half-close: the client ends its side, the server then replies, the client receives it all", () =>
      withT((t) =>
        Effect.gen(function*() {
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            const req = yield* Connection.readAll(conn)
            // reply only after the peer's FIN: 200 KiB, more than any socket buffer takes at once
            const reply = randomBytes(200 * 1024, req.length)
            yield* conn.write(reply)
          })
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          yield* c.write(enc.encode("hello server"))
          yield* c.end
          const got = yield* Connection.readAll(c)
          expect(sameBytes(got, randomBytes(200 * 1024, 12))).toBe(true)
          // writes after end are typed errors
          const err = yield* Effect.flip(c.write(enc.encode("late")))
          expect(err.reason).toBe("Closed")
        })
      ))

    it.scopedLive("read backpressure: a server that does not read holds the writer back; its buffer stays bounded; nothing is lost", () =>
      withT((t) =>
        Effect.gen(function*() {
          const readHWM = 64 * 1024
          const bound = readHWM + maxRead // one OS read may land after the pause
          const l = yield* t.listen(any, { readHighWaterMark: readHWM })
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          const chunk = randomBytes(64 * 1024, 7)
          let written = 0
          const limit = 256 * 1024 * 1024
          const writer = yield* Effect.fork(Effect.gen(function*() {
            while (written < limit) {
              // a write hands its bytes to the runtime before it waits for drain: count them first
              written += chunk.length
              yield* c.write(chunk)
            }
          }))
          // let the writer run into backpressure
          let last = -1
          for (let i = 0; i < 50 && last !== written; i++) {
            last = written
            yield* Effect.sleep(Duration.millis(100))
          }
          expect(written).toBe(last) // the writer is stuck
          expect(written).toBeLessThan(64 * 1024 * 1024)
          const stats = yield* s.stats
          expect(stats.readPaused).toBe(true)
          expect(stats.readBuffered).toBeLessThanOrEqual(bound)
          expect(stats.readBuffered).toBeGreaterThan(0)
          // now read everything: the writer continues; count bytes until the writer stops
          yield* Fiber.interrupt(writer)
          const total = written
          yield* Effect.fork(c.end)
          let got = 0
          while (true) {
            const chunks = yield* s.readMany
            if (chunks === Connection.EOF) break
            for (const x of chunks) got += x.length
          }
          expect(got).toBe(total)
        })
      ))

    it.scopedLive("write backpressure: a writer to a non-reading peer waits instead of growing memory", () =>
      withT((t) =>
        Effect.gen(function*() {
          const writeHWM = 64 * 1024
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000, writeHighWaterMark: writeHWM })
          yield* l.accept // accepted, never read
          const chunk = new Uint8Array(16 * 1024)
          let written = 0
          let maxBuffered = 0
          const writer = yield* Effect.fork(Effect.gen(function*() {
            while (true) {
              yield* c.write(chunk)
              written += chunk.length
              maxBuffered = Math.max(maxBuffered, c.unsafeStats().writeBuffered)
            }
          }))
          let last = -1
          for (let i = 0; i < 50 && last !== written; i++) {
            last = written
            yield* Effect.sleep(Duration.millis(100))
          }
          expect(written).toBe(last)
          expect(writer.unsafePoll()).toBe(null) // still waiting for drain
          expect(maxBuffered).toBeLessThanOrEqual(writeHWM + chunk.length)
          yield* Fiber.interrupt(writer)
        })
      ))

    it.scopedLive("abort resets the connection: the peer's read fails with reason Reset", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          yield* c.write(enc.encode("x"))
          const first = yield* s.read
          expect(first).not.toBe(Connection.EOF)
          yield* c.abort
          const err = yield* Effect.flip(Effect.forever(s.read)).pipe(Effect.timeout(Duration.seconds(5)))
          expect(err._tag).toBe("ConnectionError")
          expect(err.reason).toBe("Reset")
          // our own writes after abort are typed errors too
          const werr = yield* Effect.flip(c.write(enc.encode("y")))
          expect(werr.reason).toBe("Closed")
        })
      ))

    it.scopedLive("a clean close is not an error on either side", () =>
      withT((t) =>
        Effect.gen(function*() {
          const serverSaw = yield* Deferred.make<string, Connection.ConnectionError>()
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* conn.write(enc.encode("bye"))
            const rest = yield* Connection.readAll(conn)
            yield* Deferred.succeed(serverSaw, dec.decode(rest))
          }).pipe(Effect.catchAll((e) => Deferred.fail(serverSaw, e)))
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const got = yield* Connection.readExactly(c, 3)
          expect(dec.decode(got.bytes)).toBe("bye")
          yield* c.write(enc.encode("thanks"))
          yield* c.close
          expect(yield* Deferred.await(serverSaw)).toBe("thanks")
          // after the server's handler returned, the client sees EOF, not an error
          expect(yield* c.read).toBe(Connection.EOF)
          expect(yield* c.read).toBe(Connection.EOF)
          expect(server.failed()).toBe(0)
        })
      ))

    it.scopedLive("EOF repeats and is not an error; the peer's end does not stop our writes", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          yield* c.end
          expect(yield* s.read).toBe(Connection.EOF)
          expect(yield* s.readMany).toBe(Connection.EOF)
          yield* s.write(enc.encode("still here"))
          yield* s.end
          expect(dec.decode(yield* Connection.readAll(c))).toBe("still here")
        })
      ))

    it.scopedLive("closing the listener stops new connections; open ones keep working", () =>
      withT((t) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const l = yield* Scope.extend(t.listen(any), scope)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          yield* Scope.close(scope, Exit.void)
          const err = yield* Effect.flip(t.connect(l.address, { timeout: 2000 }))
          expect(err.reason).toBe("Refused")
          const acceptErr = yield* Effect.flip(l.accept)
          expect(acceptErr.reason).toBe("Closed")
          yield* c.write(enc.encode("ping"))
          yield* c.end
          expect(dec.decode(yield* Connection.readAll(s))).toBe("ping")
        })
      ))

    it.scopedLive("Unix socket path: listen, connect, echo", () =>
      withT((t) =>
        Effect.gen(function*() {
          const path = unixPath()
          const server = yield* Server.serve(yield* t.listen({ path }), echoHandler)
          expect(server.address).toEqual({ path })
          const c = yield* t.connect({ path }, { timeout: 2000 })
          yield* c.write(enc.encode("over unix"))
          yield* c.end
          expect(dec.decode(yield* Connection.readAll(c))).toBe("over unix")
          const missing = yield* Effect.flip(t.connect({ path: path + ".missing" }, { timeout: 2000 }))
          expect(["NotFound", "Refused"]).toContain(missing.reason)
        })
      ))

    it.scopedLive("local and remote addresses are correct on both sides", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          expect(c.remoteAddress).toEqual(l.address)
          expect(s.localAddress).toEqual(l.address)
          expect(s.remoteAddress).toEqual(c.localAddress)
          expect((c.localAddress as { host: string }).host).toBe(host)
          expect((c.localAddress as { port: number }).port).toBeGreaterThan(0)
        })
      ))

    if (options.ipv6 ?? true) {
      it.scopedLive("IPv6 loopback: listen on ::1 and echo", () =>
        withT((t) =>
          Effect.gen(function*() {
            const server = yield* Server.serve(yield* t.listen({ host: "::1", port: 0 }), echoHandler)
            expect((server.address as { host: string }).host).toBe("::1")
            const c = yield* t.connect(server.address, { timeout: 2000 })
            expect((c.localAddress as { host: string }).host).toBe("::1")
            yield* c.write(enc.encode("v6"))
            yield* c.end
            expect(dec.decode(yield* Connection.readAll(c))).toBe("v6")
          })
        ))
    }

    it.scopedLive("write after close, and end after close, are typed Closed errors", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          yield* l.accept
          yield* c.close
          const err = yield* Effect.flip(c.write(enc.encode("x")))
          expect(err._tag).toBe("ConnectionError")
          expect(err.reason).toBe("Closed")
          expect(err.operation).toBe("write")
          const err2 = yield* Effect.flip(c.writeAll([enc.encode("x"), enc.encode("y")]))
          expect(err2.reason).toBe("Closed")
          const err3 = yield* Effect.flip(c.end)
          expect(err3.reason).toBe("Closed")
        })
      ))

    it.scopedLive("chunk order is preserved when the handler is slow at random", () =>
      withT((t) =>
        Effect.gen(function*() {
          const slowEcho = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            while (true) {
              const chunk = yield* conn.read
              if (chunk === Connection.EOF) return
              yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 4)))
              yield* conn.write(chunk)
            }
          })
          const server = yield* Server.serve(yield* t.listen(any), slowEcho)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const parts: Array<string> = []
          for (let i = 0; i < 200; i++) parts.push(`<${i}>`)
          const writer = yield* Effect.fork(writeParts(c, parts))
          const got = dec.decode(yield* Connection.readAll(c))
          yield* Fiber.join(writer)
          expect(got).toBe(parts.join(""))
        })
      ))

    it.scopedLive("pump: 1 MiB echoed byte-exact through the push path, with EOF ending the pump", () =>
      withT((t) =>
        Effect.gen(function*() {
          const pumpEcho = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* conn.pump((chunks) => {
              conn.unsafeWriteAll(chunks)
            })
          })
          const server = yield* Server.serve(yield* t.listen(any), pumpEcho)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const data = randomBytes(1024 * 1024, 99)
          const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 50_000), c.end))
          const got = yield* Connection.readAll(c)
          yield* Fiber.join(writer)
          expect(sameBytes(got, data)).toBe(true)
          expect(server.failed()).toBe(0)
        })
      ))

    it.scopedLive("pump with borrow: 4 MiB echoed byte-exact while read buffers are lent and reused", () =>
      withT((t) =>
        Effect.gen(function*() {
          // the echo writes lent chunks back: the transport must keep them intact until sent,
          // even though it reuses read buffers (Deno) and the peer reads slowly at times
          const borrowEcho = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* conn.pump((chunks) => {
              conn.unsafeWriteAll(chunks)
            }, { borrow: true })
          })
          const server = yield* Server.serve(yield* t.listen(any), borrowEcho)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const data = randomBytes(4 * 1024 * 1024, 7)
          const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 200_000), c.end))
          const got: Array<Uint8Array> = []
          let n = 0
          while (true) {
            const chunk = yield* c.read
            if (chunk === Connection.EOF) break
            got.push(chunk)
            if (++n % 16 === 0) yield* Effect.sleep(Duration.millis(1)) // let writes pile up
          }
          yield* Fiber.join(writer)
          expect(sameBytes(Connection.concat(got), data)).toBe(true)
          expect(server.failed()).toBe(0)
        })
      ))

    it.scopedLive("pump with borrow: a consumer that copies what it keeps sees the exact stream; chunks still arrive batched", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          const kept: Array<Uint8Array> = []
          const data = randomBytes(2 * 1024 * 1024, 11)
          const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 100_000), c.end))
          yield* s.pump((chunks) => {
            for (const chunk of chunks) kept.push(chunk.slice())
          }, { borrow: true })
          yield* Fiber.join(writer)
          expect(sameBytes(Connection.concat(kept), data)).toBe(true)
          expect(s.unsafeStats().bytesRead).toBe(data.length)
        })
      ))

    it.scopedLive("pump: an effect returned by the callback pauses delivery, so order holds under random delays", () =>
      withT((t) =>
        Effect.gen(function*() {
          const slow = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* conn.pump((chunks) =>
              Effect.gen(function*() {
                yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 3)))
                yield* conn.writeAll(chunks)
              })
            )
          })
          const server = yield* Server.serve(yield* t.listen(any), slow)
          const c = yield* t.connect(server.address, { timeout: 2000 })
          const parts = Array.from({ length: 150 }, (_, i) => `[${i}]`)
          const writer = yield* Effect.fork(writeParts(c, parts))
          expect(dec.decode(yield* Connection.readAll(c))).toBe(parts.join(""))
          yield* Fiber.join(writer)
        })
      ))

    it.scopedLive("pump: when the peer stops reading, the pump stops reading too (buffers stay bounded)", () =>
      withT((t) =>
        Effect.gen(function*() {
          const readHWM = 64 * 1024
          const l = yield* t.listen(any, { readHighWaterMark: readHWM, writeHighWaterMark: 64 * 1024 })
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          const pumping = yield* Effect.fork(s.pump((chunks) => {
            s.unsafeWriteAll(chunks)
          }))
          // the client writes but never reads the echo
          const chunk = randomBytes(32 * 1024, 3)
          let written = 0
          const writer = yield* Effect.fork(Effect.forever(Effect.suspend(() => {
            written += chunk.length
            return c.write(chunk)
          })))
          let last = -1
          for (let i = 0; i < 50 && last !== written; i++) {
            last = written
            yield* Effect.sleep(Duration.millis(100))
          }
          expect(written).toBe(last)
          const st = s.unsafeStats()
          // one read may land after the pause, and its echo past the write mark
          expect(st.readBuffered).toBeLessThanOrEqual(readHWM + maxRead)
          expect(st.writeBuffered).toBeLessThanOrEqual(64 * 1024 + maxRead)
          expect(pumping.unsafePoll()).toBe(null)
          yield* Fiber.interrupt(writer)
          // both sides are now blocked on each other: a graceful close would wait for closeTimeout
          yield* c.abort
          yield* s.abort
        })
      ))

    it.scopedLive("a failing handler closes only its own connection; the server keeps serving", () =>
      withT((t) =>
        Effect.gen(function*() {
          let n = 0
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            const me = ++n
            if (me === 1) return yield* Effect.fail("boom")
            if (me === 2) return yield* Effect.die(new Error("defect"))
            const chunks = yield* Connection.readAll(conn)
            yield* conn.write(chunks)
          })
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const bad1 = yield* t.connect(server.address, { timeout: 2000 })
          expect(yield* Connection.readAll(bad1)).toEqual(new Uint8Array(0))
          const bad2 = yield* t.connect(server.address, { timeout: 2000 })
          expect(yield* Connection.readAll(bad2)).toEqual(new Uint8Array(0))
          const good = yield* t.connect(server.address, { timeout: 2000 })
          yield* good.write(enc.encode("still serving"))
          yield* good.end
          expect(dec.decode(yield* Connection.readAll(good))).toBe("still serving")
          expect(server.failed()).toBe(2)
        })
      ))

    describe("peers that reset (RST) do not disturb the server", () => {
      /** The server side of each connection, by its peer's address (the client's local address). */
      type Served = Map<string, Connection.Connection>
      const range = (n: number) => Array.from({ length: n }, (_, i) => i)

      /**
       * Serves an echo, opens a bystander and checks it echoes, then runs `resets`
       * while the bystander keeps writing. Afterwards: the bystander's whole stream
       * came back byte-exact, fresh connections are served at once, and every
       * handler ended (none hangs on a peer that is gone).
       */
      const survives = (
        title: string,
        resets: (t: TransportService, address: Address, served: Served) => Effect.Effect<void, unknown, Scope.Scope>
      ) =>
        it.scopedLive(`${title}: the server still serves new connections; a bystander keeps echoing byte-exact`, () =>
          withT((t) =>
            Effect.gen(function*() {
              const served: Served = new Map()
              // how each handler that failed failed: a peer's reset must read as Reset
              const reasons: Array<string> = []
              const handler = Effect.flatMap(Connection.Connection, (conn) =>
                Effect.suspend(() => {
                  served.set(format(conn.remoteAddress), conn)
                  return Effect.tapError(
                    echoHandler,
                    (e) =>
                      Effect.sync(() => reasons.push(e instanceof Connection.ConnectionError ? e.reason : String(e)))
                  )
                }))
              const server = yield* Server.serve(yield* t.listen(any, { backlog: 511 }), handler)

              // the bystander: connected and echoing before the first reset
              const by = yield* t.connect(server.address, { timeout: 2000 })
              const stream = randomBytes(4 * 1024 * 1024, 4321)
              const first = stream.subarray(0, 16 * 1024)
              yield* by.write(first)
              const echoed = yield* Connection.readExactly(by, first.length)
              expect(sameBytes(echoed.bytes, first)).toBe(true)
              const reader = yield* Effect.fork(Connection.readAll(by))
              let sent = first.length
              let stop = false
              const writer = yield* Effect.fork(Effect.gen(function*() {
                while (!stop && sent < stream.length - 8192) {
                  const n = yield* Random.nextIntBetween(1, 8193)
                  yield* by.write(stream.subarray(sent, sent + n))
                  sent += n
                  yield* jitter
                }
              }))

              yield* Effect.scoped(resets(t, server.address, served))

              // new connections are served, promptly
              const fresh = yield* Effect.forEach(
                range(10),
                (i) =>
                  Effect.scoped(Effect.gen(function*() {
                    const c = yield* t.connect(server.address, { timeout: 2000 })
                    const data = randomBytes(32 * 1024 + i, 100 + i)
                    const w = yield* Effect.fork(Effect.zipRight(writeRandomly(c, data, 4000), c.end))
                    const got = yield* Connection.readAll(c)
                    yield* Fiber.join(w)
                    return sameBytes(got, data)
                  })),
                { concurrency: "unbounded" }
              ).pipe(Effect.timeoutFail({
                duration: Duration.seconds(5),
                onTimeout: () => new Error("new connections were not served within 5 s after the resets")
              }))
              expect(fresh.filter((ok) => !ok).length).toBe(0)

              // the bystander lost nothing
              stop = true
              yield* Fiber.join(writer)
              yield* by.end
              const rest = yield* Fiber.join(reader)
              expect(echoed.rest.length + rest.length).toBe(sent - first.length)
              expect(sameBytes(Connection.concat([echoed.rest, rest]), stream.subarray(first.length, sent))).toBe(true)
              expect(server.accepted()).toBeGreaterThanOrEqual(11)

              // every handler ended: none hangs on a peer that is gone
              for (let i = 0; i < 100 && server.active() > 0; i++) yield* Effect.sleep(Duration.millis(50))
              expect(server.active()).toBe(0)
              expect(reasons.filter((r) => r !== "Reset")).toEqual([])
            })
          ))

      survives(
        "50 peers that connect and reset at once (many before the server set them up)",
        (t, address) =>
          Effect.forEach(
            range(50),
            () => Effect.scoped(Effect.flatMap(t.connect(address, { timeout: 5000 }), (c) => c.abort)),
            { concurrency: "unbounded", discard: true }
          )
      )

      if (options.processPeers) {
        survives(
          "50 peers of another process that connect, write and reset before the server accepts them",
          (_, address) =>
            Effect.gen(function*() {
              const tcp = address as { host: string; port: number }
              expect(yield* resetFromProcess(tcp.host, tcp.port, 50)).toBe(50)
            })
        )
      }

      survives("30 peers that reset mid-request (a partial message written)", (t, address) =>
        Effect.forEach(
          range(30),
          (i) =>
            Effect.scoped(Effect.gen(function*() {
              const c = yield* t.connect(address, { timeout: 5000 })
              yield* c.write(randomBytes(1000 + 97 * i, 200 + i))
              yield* jitter
              yield* c.abort
            })),
          { concurrency: "unbounded", discard: true }
        ))

      survives("20 peers that reset while the server writes them a 2 MiB reply", (t, address) =>
        Effect.forEach(
          range(20),
          (i) =>
            Effect.scoped(Effect.gen(function*() {
              const c = yield* t.connect(address, { timeout: 5000 })
              const data = randomBytes(2 * 1024 * 1024, 300 + i)
              const w = yield* Effect.fork(writeRandomly(c, data, 64 * 1024))
              // take the first 128 KiB of the reply, then reset while the rest is on its way
              const got: Array<Uint8Array> = []
              let n = 0
              while (n < 128 * 1024) {
                const chunk = yield* c.read
                if (chunk === Connection.EOF) break
                got.push(chunk)
                n += chunk.length
              }
              expect(sameBytes(Connection.concat(got), data.subarray(0, n))).toBe(true)
              yield* Fiber.interrupt(w)
              yield* c.abort
            })),
          { concurrency: "unbounded", discard: true }
        ))

      survives(
        "20 peers that reset while the server is blocked writing to them (they never read)",
        (t, address, served) =>
          Effect.gen(function*() {
            const peers = yield* Effect.forEach(range(20), () => t.connect(address, { timeout: 5000 }), {
              concurrency: "unbounded"
            })
            const setUp = () => peers.filter((c) => served.has(format(c.localAddress))).length
            for (let i = 0; i < 100 && setUp() < peers.length; i++) yield* Effect.sleep(Duration.millis(50))
            expect(setUp()).toBe(peers.length)
            yield* Effect.forEach(peers, (c) =>
              Effect.gen(function*() {
                const s = served.get(format(c.localAddress))!
                const chunk = randomBytes(64 * 1024, 9)
                let written = 0
                const w = yield* Effect.fork(Effect.gen(function*() {
                  while (written < 256 * 1024 * 1024) {
                    yield* c.write(chunk)
                    written += chunk.length
                  }
                }))
                // the peer never reads: the echo fills every buffer, the server's write waits, so does ours
                yield* settle(() => written + s.unsafeStats().bytesRead)
                expect(w.unsafePoll()).toBe(null)
                expect(s.unsafeStats().writeBuffered).toBeGreaterThan(0)
                yield* Fiber.interrupt(w)
                yield* c.abort
              }), { concurrency: "unbounded", discard: true })
          })
      )
    })
  })
  FramedConformance.run(options.name, options.layer, host)
  PlatformConformance.run(options.name, options.layer)
}
