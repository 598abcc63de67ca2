/**
 * The `@effect/platform` interop suite: a wirekit connection as a platform
 * `Socket`, a wirekit listener as a platform `SocketServer`, and an
 * `@effect/rpc` round trip (plain, typed error, streamed; ndjson and
 * MessagePack) over them. {@link Conformance.run} registers it for every
 * adapter, so it runs under each adapter's own runtime.
 *
 * @example
 * ```ts
 * import { PlatformConformance } from "@wirekit/testing"
 * import { MemoryTransport } from "@wirekit/core"
 * PlatformConformance.run("memory", MemoryTransport.layer())
 * ```
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { describe, it } from "@effect/vitest"
import type { Address as Address$ } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { PlatformSocket } from "@wirekit/core/platform"
import { PlatformSocketServer } from "@wirekit/core/platform"
import {
  Chunk,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Random,
  Schedule,
  Schema,
  Stream
} from "effect"
import type { Scope } from "effect"
import { expect } from "vitest"
import { dec, echoHandler, enc, jitter, randomBytes, sameBytes, settle, writeParts } from "./internal.ts"
type Address = Address$.Address
const Transport = Transport$.Transport
type Transport = Transport$.Transport
type TransportService = Transport$.TransportService

// ---- the rpc group of the round-trip tests -----------------------------

/** The typed failure of `Add`. */
class AddError extends Schema.TaggedError<AddError>()("AddError", { reason: Schema.String }) {}

class MathRpcs extends RpcGroup.make(
  Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: AddError }),
  Rpc.make("Count", { payload: { n: Schema.Number }, success: Schema.Number, stream: true }),
  Rpc.make("Echo", { payload: { text: Schema.String }, success: Schema.String })
) {}

const MathLive = MathRpcs.toLayer({
  Add: ({ a, b }) =>
    a < 0 || b < 0 ? Effect.fail(new AddError({ reason: `negative operand: ${a}, ${b}` })) : Effect.succeed(a + b),
  // small chunks: many Chunk messages, each acknowledged by the client
  Count: ({ n }) => Stream.rechunk(Stream.range(1, n), 7),
  Echo: ({ text }) => Effect.succeed(text)
})

/**
 * Registers the `@effect/platform` interop tests against a transport Layer
 * (called by {@link Conformance.run}; call it directly only for a transport
 * that does not run the full suite).
 *
 * @example
 * ```ts
 * import { PlatformConformance } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * PlatformConformance.run("node", NodeTransport.layer)
 * ```
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (name: string, layer: Layer.Layer<Transport>): void => {
  const host = "127.0.0.1"
  const any: Address = { host, port: 0 }
  const withT = <A, E>(f: (t: TransportService) => Effect.Effect<A, E, Scope.Scope | Transport>) =>
    Effect.provide(Effect.flatMap(Transport, f), layer)

  /** A SocketServer layer built into the current scope; returns the service. */
  const socketServer = (address: Address, options?: PlatformSocketServer.PlatformSocketServerOptions) =>
    Effect.map(Layer.build(PlatformSocketServer.layer(address, options)), (ctx) => ({
      ctx,
      server: Context.get(ctx, SocketServer.SocketServer)
    }))

  /** RpcServer over PlatformSocketServer, RpcClient over PlatformSocket, with `serialization`; returns the client. */
  const rpcPair = (serialization: Layer.Layer<RpcSerialization.RpcSerialization>) =>
    Effect.gen(function*() {
      const { ctx, server } = yield* socketServer(any)
      yield* Layer.build(
        RpcServer.layer(MathRpcs).pipe(
          Layer.provide(MathLive),
          Layer.provide(RpcServer.layerProtocolSocketServer),
          Layer.provide(serialization),
          Layer.provide(Layer.succeedContext(ctx))
        )
      )
      const address = server.address
      expect(address._tag).toBe("TcpAddress")
      const port = address._tag === "TcpAddress" ? address.port : 0
      expect(port).toBeGreaterThan(0)
      const protocol = yield* Layer.build(
        RpcClient.layerProtocolSocket().pipe(
          Layer.provide(PlatformSocket.layerSocket({ host, port }, { timeout: 2000 })),
          Layer.provide(serialization)
        )
      )
      return yield* Effect.provide(RpcClient.make(MathRpcs), protocol)
    })

  const rpcRoundTrip = (serialization: Layer.Layer<RpcSerialization.RpcSerialization>) =>
    withT(() =>
      Effect.gen(function*() {
        const client = yield* rpcPair(serialization)
        // plain
        expect(yield* client.Add({ a: 2, b: 40 })).toBe(42)
        // typed error
        const err = yield* Effect.flip(client.Add({ a: -1, b: 2 }))
        expect(err._tag).toBe("AddError")
        expect(err).toBeInstanceOf(AddError)
        expect((err as AddError).reason).toBe("negative operand: -1, 2")
        // streamed: every element, in order
        const counted = yield* Stream.runCollect(client.Count({ n: 500 }))
        expect(Chunk.toReadonlyArray(counted)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
        // a message larger than any socket read: frames split across chunks
        const big = "x".repeat(300 * 1024) + "✓"
        expect(yield* client.Echo({ text: big })).toBe(big)
        // concurrent calls and streams share the connection
        const results = yield* Effect.all(
          [
            Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => client.Add({ a: i, b: i }), {
              concurrency: "unbounded"
            }),
            Effect.forEach([10, 50, 120], (n) =>
              Effect.map(Stream.runCollect(client.Count({ n })), Chunk.toReadonlyArray), {
              concurrency: "unbounded"
            })
          ],
          { concurrency: "unbounded" }
        )
        expect(results[0]).toEqual(Array.from({ length: 100 }, (_, i) =>
          2 * i))
        expect(results[1].map((xs) =>
          xs.length
        )).toEqual([10, 50, 120])
        expect(results[1][2]).toEqual(Array.from({ length: 120 }, (_, i) => i + 1))
      })
    )

  describe(`@effect/platform interop: ${name}`, () => {
    it.scopedLive("platform Socket over wirekit: 256 KiB of random bytes echo in order through run + writer; EOF ends run without error", () =>
      withT((t) =>
        Effect.gen(function*() {
          const server = yield* Server.serve(yield* t.listen(any), echoHandler)
          const socket = yield* PlatformSocket.makeSocket(server.address, { timeout: 2000 })
          const data = randomBytes(256 * 1024, 17)
          const received: Array<Uint8Array> = []
          // the handler records each chunk after a random delay: only sequential handling keeps the order
          const reader = yield* Effect.fork(
            socket.run((chunk) => Effect.zipRight(jitter, Effect.sync(() => received.push(chunk))))
          )
          yield* Effect.scoped(Effect.gen(function*() {
            const write = yield* socket.writer
            let off = 0
            while (off < data.length) {
              const n = yield* Random.nextIntBetween(1, 20_000)
              yield* write(data.subarray(off, Math.min(data.length, off + n)))
              off += n
            }
          })) // releasing the writer half-closes: the echo server sees EOF and closes
          const exit = yield* Fiber.await(reader).pipe(Effect.timeout(Duration.seconds(10)))
          expect(Exit.isSuccess(exit)).toBe(true)
          expect(sameBytes(Connection.concat(received), data)).toBe(true)
        })
      ))

    it.scopedLive("platform Socket over wirekit, half-open: run ends at the peer's FIN, the writer still reaches the peer, its release closes", () =>
      withT((t) =>
        Effect.gen(function*() {
          const serverGot = yield* Deferred.make<string, Connection.ConnectionError>()
          const handler = Effect.gen(function*() {
            const conn = yield* Connection.Connection
            yield* conn.write(enc.encode("greeting"))
            yield* conn.end
            yield* Deferred.succeed(serverGot, dec.decode(yield* Connection.readAll(conn)))
          })
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const socket = yield* PlatformSocket.makeSocket(server.address, { timeout: 2000 })
          yield* Effect.scoped(Effect.gen(function*() {
            const write = yield* socket.writer
            let greeting = ""
            yield* socket.run((chunk) => {
              greeting += dec.decode(chunk)
            })
            expect(greeting).toBe("greeting")
            // the peer ended its side only: ours is still open
            yield* write("written after your FIN")
          })) // the last writer's release closes the connection gracefully
          expect(yield* Deferred.await(serverGot).pipe(Effect.timeout(Duration.seconds(5)))).toBe(
            "written after your FIN"
          )
        })
      ))

    it.scopedLive("platform Socket from a wirekit connection: strings are UTF-8; a reset fails run with a Read SocketError carrying the ConnectionError", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          const socket = PlatformSocket.fromConnection(c)
          expect(Socket.isSocket(socket)).toBe(true)
          expect(Option.getOrThrow(PlatformSocket.connection(socket))).toBe(c)
          const write = yield* socket.writer
          yield* write("héllo ✓ ")
          yield* write(new Uint8Array([0x61, 0x62]))
          const expected = enc.encode("héllo ✓ ab")
          const got = yield* Connection.readExactly(s, expected.length)
          expect(dec.decode(got.bytes)).toBe("héllo ✓ ab")
          const running = yield* Effect.fork(socket.run(() => {}))
          yield* s.abort
          const err = yield* Effect.flip(Fiber.join(running)).pipe(Effect.timeout(Duration.seconds(5)))
          expect(Socket.isSocketError(err)).toBe(true)
          expect(err).toBeInstanceOf(Socket.SocketGenericError)
          expect(err.reason).toBe("Read")
          const cause = (err as Socket.SocketGenericError).cause as Connection.ConnectionError
          expect(cause._tag).toBe("ConnectionError")
          expect(cause.reason).toBe("Reset")
          const werr = yield* Effect.flip(write("late"))
          expect(werr).toBeInstanceOf(Socket.SocketGenericError)
          expect(werr.reason).toBe("Write")
        })
      ))

    it.scopedLive("writing a CloseEvent closes gracefully: pending writes arrive, run ends cleanly for 1000 and with a SocketCloseError for an error code", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          // a normal close
          const c1 = yield* t.connect(l.address, { timeout: 2000 })
          const s1 = yield* l.accept
          const peer1 = yield* Effect.fork(Connection.readAll(s1))
          const socket1 = PlatformSocket.fromConnection(c1)
          const write1 = yield* socket1.writer
          const running1 = yield* Effect.fork(socket1.run(() => {}))
          const payload = randomBytes(300 * 1024, 3)
          yield* write1(payload)
          yield* write1(new Socket.CloseEvent(1000))
          expect(Exit.isSuccess(yield* Fiber.await(running1))).toBe(true)
          expect(sameBytes(yield* Fiber.join(peer1), payload)).toBe(true)
          // an error code: the connection closes all the same, run reports it
          const c2 = yield* t.connect(l.address, { timeout: 2000 })
          const s2 = yield* l.accept
          const peer2 = yield* Effect.fork(Connection.readAll(s2))
          const socket2 = PlatformSocket.fromConnection(c2)
          const write2 = yield* socket2.writer
          const running2 = yield* Effect.fork(socket2.run(() => {}))
          yield* write2("last words")
          yield* write2(new Socket.CloseEvent(4001, "bye"))
          const err = yield* Effect.flip(Fiber.join(running2))
          expect(err).toBeInstanceOf(Socket.SocketCloseError)
          expect(Socket.SocketCloseError.is(err)).toBe(true)
          expect((err as Socket.SocketCloseError).code).toBe(4001)
          expect((err as Socket.SocketCloseError).closeReason).toBe("bye")
          expect(dec.decode(yield* Fiber.join(peer2))).toBe("last words")
        })
      ))

    it.scopedLive("read backpressure: run pulls the next chunk only after the handler's effect completed; the peer is held back; nothing is lost", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any, { readHighWaterMark: 64 * 1024 })
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = yield* l.accept
          const gate = yield* Deferred.make<void>()
          let got = 0
          let calls = 0
          const running = yield* Effect.fork(
            PlatformSocket.fromConnection(s).run((chunk) => {
              got += chunk.length
              // the first chunk's handler blocks until the gate opens
              return ++calls === 1 ? Deferred.await(gate) : undefined
            })
          )
          const chunk = randomBytes(64 * 1024, 9)
          let written = 0
          const writer = yield* Effect.fork(Effect.gen(function*() {
            while (written < 256 * 1024 * 1024) {
              written += chunk.length
              yield* c.write(chunk)
            }
          }))
          const stuck = yield* settle(() => written)
          expect(written).toBe(stuck) // the writer is held back
          expect(written).toBeLessThan(64 * 1024 * 1024)
          expect(calls).toBe(1) // no chunk handed over while the handler runs
          expect((yield* s.stats).readPaused).toBe(true)
          yield* Fiber.interrupt(writer)
          const total = written
          yield* Effect.fork(c.end)
          yield* Deferred.succeed(gate, undefined)
          expect(Exit.isSuccess(yield* Fiber.await(running))).toBe(true)
          expect(got).toBe(total)
        })
      ))

    it.scopedLive("SocketServer layer: a platform-socket echo server with random handler delays keeps each connection's order", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server } = yield* socketServer(any)
          expect(server.address).toMatchObject({ _tag: "TcpAddress", hostname: host })
          const port = server.address._tag === "TcpAddress" ? server.address.port : 0
          expect(port).toBeGreaterThan(0)
          yield* Effect.forkScoped(server.run((socket) =>
            Effect.scoped(Effect.gen(function*() {
              const write = yield* socket.writer
              yield* socket.run((chunk) => Effect.zipRight(jitter, write(chunk)))
            }))
          ))
          const results = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) =>
              Effect.scoped(Effect.gen(function*() {
                const c = yield* t.connect({ host, port }, { timeout: 2000 })
                const parts = Array.from({ length: 150 }, (_, j) => `<${i}:${j}>`)
                const writer = yield* Effect.fork(writeParts(c, parts))
                const got = dec.decode(yield* Connection.readAll(c))
                yield* Fiber.join(writer)
                return got === parts.join("")
              })),
            { concurrency: "unbounded" }
          )
          expect(results.filter((ok) => !ok).length).toBe(0)
        })
      ))

    it.scopedLive("SocketServer layer: after the peer's FIN, the handler's replies still reach it before the graceful close", () =>
      withT((t) =>
        Effect.gen(function*() {
          const { server } = yield* socketServer(any)
          const sawConnection = yield* Deferred.make<boolean>()
          yield* Effect.forkScoped(server.run((socket) =>
            Effect.scoped(Effect.gen(function*() {
              // the wirekit connection is reachable both ways
              const service = yield* Effect.serviceOption(Connection.Connection)
              yield* Deferred.succeed(
                sawConnection,
                Option.isSome(service) && Option.getOrUndefined(PlatformSocket.connection(socket)) === service.value
              )
              const write = yield* socket.writer
              let request = 0
              yield* socket.run((chunk) => {
                request += chunk.length
              })
              // run returned at the peer's EOF: reply now, 200 KiB, more than a socket buffer takes at once
              yield* write(randomBytes(200 * 1024, request))
            }))
          ))
          const c = yield* t.connect(PlatformSocket.fromPlatformAddress(server.address), { timeout: 2000 })
          yield* c.write(enc.encode("hello server"))
          yield* c.end
          const got = yield* Connection.readAll(c)
          expect(sameBytes(got, randomBytes(200 * 1024, 12))).toBe(true)
          expect(yield* Deferred.await(sawConnection)).toBe(true)
        })
      ))

    it.scopedLive("SocketServer layer on a Unix socket path: UnixAddress, echo through PlatformSocket.makeSocket", () =>
      withT(() =>
        Effect.gen(function*() {
          const path = `/tmp/wirekit-platform-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.sock`
          const { server } = yield* socketServer({ path })
          expect(server.address).toEqual({ _tag: "UnixAddress", path })
          yield* Effect.forkScoped(server.run((socket) =>
            Effect.scoped(Effect.gen(function*() {
              const write = yield* socket.writer
              yield* socket.run(write)
            }))
          ))
          const socket = yield* PlatformSocket.makeSocket(server.address, { timeout: 2000 })
          const parts: Array<string> = []
          const reader = yield* Effect.fork(socket.run((chunk) => {
            parts.push(dec.decode(chunk))
          }))
          yield* Effect.scoped(Effect.flatMap(socket.writer, (write) => write("over unix, via @effect/platform")))
          yield* Fiber.join(reader)
          expect(parts.join("")).toBe("over unix, via @effect/platform")
        })
      ))

    it.scopedLive("@effect/rpc round trip over wirekit (ndjson): plain, typed error, streamed, large and concurrent", () =>
      rpcRoundTrip(RpcSerialization.layerNdjson))

    it.scopedLive("@effect/rpc round trip over wirekit (msgPack): plain, typed error, streamed, large and concurrent", () =>
      rpcRoundTrip(RpcSerialization.layerMsgPack))

    it.scopedLive("@effect/rpc client reconnects: after the server drops the connection, RpcClient runs the socket again and calls succeed", () =>
      withT(() =>
        Effect.gen(function*() {
          const { server } = yield* socketServer(any)
          // the first connection is closed by the server as soon as it is accepted
          let accepted = 0
          const dropFirst = SocketServer.SocketServer.of({
            address: server.address,
            run: (handler) => server.run((socket) => ++accepted === 1 ? Effect.void : handler(socket))
          })
          yield* Layer.build(
            RpcServer.layer(MathRpcs).pipe(
              Layer.provide(MathLive),
              Layer.provide(RpcServer.layerProtocolSocketServer),
              Layer.provide(RpcSerialization.layerNdjson),
              Layer.provide(Layer.succeed(SocketServer.SocketServer, dropFirst))
            )
          )
          const protocol = yield* Layer.build(
            RpcClient.layerProtocolSocket({ retrySchedule: Schedule.spaced(Duration.millis(50)) }).pipe(
              Layer.provide(PlatformSocket.layerSocket(server.address, { timeout: 2000 })),
              Layer.provide(RpcSerialization.layerNdjson)
            )
          )
          const client = yield* Effect.provide(RpcClient.make(MathRpcs), protocol)
          const sum = yield* client.Add({ a: 20, b: 22 }).pipe(
            Effect.retry({
              while: (e) => e._tag === "RpcClientError",
              schedule: Schedule.spaced(Duration.millis(50)),
              times: 100
            })
          )
          expect(sum).toBe(42)
          expect(accepted).toBeGreaterThanOrEqual(2)
          expect(Chunk.toReadonlyArray(yield* Stream.runCollect(client.Count({ n: 30 })))).toHaveLength(30)
        })
      ))
  })
}
