/**
 * Framing over a real transport: the framed-connection behaviours, run by
 * {@link Conformance.run} on every transport.
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Connection } from "@wirekit/core"
import { Framed } from "@wirekit/core"
import { Framing } from "@wirekit/core"
import { LengthField } from "@wirekit/core"
import { Lines } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { Transport as Transport$ } from "@wirekit/core"
import { Effect, Fiber, Random } from "effect"
import type { Layer, Scope } from "effect"
import { expect } from "vitest"
import { dec, enc, sameBytes, settle, writeRandomly } from "./internal.ts"
const Transport = Transport$.Transport
type Transport = Transport$.Transport
type TransportService = Transport$.TransportService

const frameBytes = (i: number, size: number): Uint8Array => {
  const f = new Uint8Array(size)
  for (let k = 0; k < size; k++) f[k] = (i * 31 + k) & 0xff
  return f
}

/** Registers the framed behaviours for one transport. */
export const run = (name: string, layer: Layer.Layer<Transport>, host = "127.0.0.1"): void => {
  const any = { host, port: 0 }
  const withT = <A, E>(f: (t: TransportService) => Effect.Effect<A, E, Scope.Scope | Transport>) =>
    Effect.provide(Effect.flatMap(Transport, f), layer)
  const lengthField = LengthField.make({ fieldLength: 4, maxFrameLength: 1024 * 1024 })

  /** Framed echo in push mode: every frame of a batch goes back in one write. */
  const framedEcho = Effect.gen(function*() {
    const framed = Framed.make(yield* Connection.Connection, lengthField)
    yield* framed.pump((frames) => {
      for (const frame of frames) framed.unsafeSend(frame)
    })
  })

  /** The same echo borrowing the reads: frames are views of lent buffers, copied by `unsafeSend`. */
  const framedEchoBorrow = Effect.gen(function*() {
    const framed = Framed.make(yield* Connection.Connection, lengthField)
    yield* framed.pump((frames) => {
      for (const frame of frames) framed.unsafeSend(frame)
    }, { borrow: true })
  })

  describe(`framing over transport: ${name}`, () => {
    for (const [mode, echo] of [["push mode", framedEcho], ["push mode, borrowed reads", framedEchoBorrow]] as const) {
      it.scopedLive(`length-field echo (${mode}): 2000 frames of random sizes, written in random chunks, come back in order`, () =>
        withT((t) =>
          Effect.gen(function*() {
            const server = yield* Server.serve(yield* t.listen(any), echo)
            const conn = yield* t.connect(server.address, { timeout: 2000 })
            const client = Framed.make(conn, lengthField)
            const sizes = yield* Effect.forEach(Array.from({ length: 2000 }), () => Random.nextIntBetween(0, 3000))
            const frames = sizes.map((s, i) => frameBytes(i, s))
            // encode on the side with the codec under test's own encoder, as one byte stream
            const encoded = Framing.encodeAll(lengthField, frames)
            if (encoded._tag === "Left") return yield* Effect.die(encoded.left)
            const writer = yield* Effect.fork(Effect.zipRight(writeRandomly(conn, encoded.right, 9000), conn.end))
            const got: Array<Uint8Array> = []
            while (true) {
              const f = yield* client.read
              if (f === Connection.EOF) break
              got.push(f.slice())
            }
            yield* Fiber.join(writer)
            expect(got.length).toBe(frames.length)
            let mismatches = 0
            for (let i = 0; i < frames.length; i++) if (!sameBytes(got[i]!, frames[i]!)) mismatches++
            expect(mismatches).toBe(0)
            expect(server.failed()).toBe(0)
          })
        ))
    }

    it.scopedLive("push mode coalesces: the replies to one read batch leave in one write", () =>
      withT((t) =>
        Effect.gen(function*() {
          let serverConn: Connection.Connection | undefined
          const handler = Effect.gen(function*() {
            serverConn = yield* Connection.Connection
            yield* framedEcho
          })
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const conn = yield* t.connect(server.address, { timeout: 2000 })
          const client = Framed.make(conn, lengthField)
          // 200 small frames sent in one turn: one write from the client
          yield* client.sendAll(Array.from({ length: 200 }, (_, i) => frameBytes(i, 10)))
          yield* client.flush
          expect(conn.unsafeStats().writes).toBe(1)
          let n = 0
          while (n < 200) {
            const fs = yield* client.readMany
            if (fs === Connection.EOF) break
            n += fs.length
          }
          expect(n).toBe(200)
          const st = serverConn!.unsafeStats()
          expect(st.writes).toBeLessThanOrEqual(st.reads)
          expect(st.writes).toBeGreaterThan(0)
        })
      ))

    it.scopedLive("pull mode: lines with CRLF, sends in one turn coalesce into one write", () =>
      withT((t) =>
        Effect.gen(function*() {
          const lines = Lines.make({ maxLength: 1024 })
          const upper = Effect.gen(function*() {
            const framed = Framed.make(yield* Connection.Connection, lines)
            while (true) {
              const line = yield* framed.read
              if (line === Connection.EOF) return
              yield* framed.send(enc.encode(dec.decode(line).toUpperCase()))
            }
          })
          const server = yield* Server.serve(yield* t.listen(any), upper)
          const conn = yield* t.connect(server.address, { timeout: 2000 })
          const client = Framed.make(conn, lines)
          for (const w of ["alpha", "beta", "gamma"]) yield* client.send(enc.encode(w))
          yield* Effect.yieldNow()
          expect(conn.unsafeStats().writes).toBe(1)
          // a CR and its LF in two different chunks are one delimiter
          yield* conn.write(enc.encode("delta\r"))
          yield* Effect.sleep("20 millis")
          yield* conn.write(enc.encode("\n"))
          const got: Array<string> = []
          for (let i = 0; i < 4; i++) {
            const l = yield* client.read
            if (l === Connection.EOF) break
            got.push(dec.decode(l))
          }
          expect(got).toEqual(["ALPHA", "BETA", "GAMMA", "DELTA"])
        })
      ))

    it.scopedLive("an oversized length header is rejected before its body, that connection only closes, others keep working", () =>
      withT((t) =>
        Effect.gen(function*() {
          const errors: Array<unknown> = []
          const handler = Effect.gen(function*() {
            const framed = Framed.make(yield* Connection.Connection, lengthField)
            yield* framed.pump((frames) => {
              for (const frame of frames) framed.unsafeSend(frame)
            }).pipe(Effect.tapError((e) => Effect.sync(() => errors.push(e))))
          })
          const server = yield* Server.serve(yield* t.listen(any), handler)
          const good = yield* t.connect(server.address, { timeout: 2000 })
          const goodFramed = Framed.make(good, lengthField)
          const bad = yield* t.connect(server.address, { timeout: 2000 })
          // declare a 1 GiB frame: only the 4-byte header is sent
          yield* bad.write(new Uint8Array([0x40, 0, 0, 0]))
          const rest = yield* Connection.readAll(bad)
          expect(rest.length).toBe(0) // closed without a reply
          expect(errors.length).toBe(1)
          const err = errors[0] as { _tag: string; reason: string; limit: number; actual: number }
          expect(err._tag).toBe("FramingError")
          expect(err.reason).toBe("FrameTooLarge")
          expect(err.limit).toBe(1024 * 1024)
          expect(err.actual).toBe(0x40000000)
          // the other connection is untouched
          yield* goodFramed.send(enc.encode("still fine"))
          const echoed = yield* goodFramed.read
          expect(echoed === Connection.EOF ? "EOF" : dec.decode(echoed)).toBe("still fine")
          expect(server.failed()).toBe(1)
        })
      ))

    it.scopedLive("backpressure end to end: a framed consumer that stops pulling stops the socket reads; nothing is lost", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any, { readHighWaterMark: 64 * 1024 })
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const sconn = yield* l.accept
          const s = Framed.make(sconn, lengthField)
          const client = Framed.make(c, lengthField)
          const frame = new Uint8Array(16 * 1024).fill(5)
          let sent = 0
          const writer = yield* Effect.fork(Effect.forever(Effect.suspend(() => {
            sent++
            return client.send(frame)
          })))
          // pull two frames, then stop pulling
          expect(sameBytes(yield* s.read, frame)).toBe(true)
          expect(sameBytes(yield* s.read, frame)).toBe(true)
          const stuck = yield* settle(() => sent)
          expect(sconn.unsafeStats().readPaused).toBe(true)
          expect(sconn.unsafeStats().readBuffered).toBeLessThanOrEqual(64 * 1024 + 512 * 1024)
          yield* Fiber.interrupt(writer)
          // resume pulling: every frame the writer handed over arrives, intact and in order
          yield* Effect.fork(Effect.zipRight(client.flush, c.end))
          let got = 2
          while (true) {
            const f = yield* s.read
            if (f === Connection.EOF) break
            if (!sameBytes(f, frame)) return expect.fail(`frame ${got} corrupted`)
            got++
          }
          expect(got).toBe(stuck)
        })
      ))

    it.scopedLive("end of stream in the middle of a frame is a Truncated error with the bytes left", () =>
      withT((t) =>
        Effect.gen(function*() {
          const l = yield* t.listen(any)
          const c = yield* t.connect(l.address, { timeout: 2000 })
          const s = Framed.make(yield* l.accept, lengthField)
          yield* c.write(new Uint8Array([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 10, 9, 9]))
          yield* c.end
          const first = yield* s.read
          expect(sameBytes(first, new Uint8Array([1, 2, 3]))).toBe(true)
          const err = yield* Effect.flip(s.read)
          expect(err._tag).toBe("FramingError")
          expect((err as { reason: string }).reason).toBe("Truncated")
          expect((err as { buffered?: number }).buffered).toBe(6)
        })
      ))
  })
}
