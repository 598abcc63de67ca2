/**
 * Behaviours specific to the Bun adapter (its own write queue, the emulated
 * `allowHalfOpen: false`, abandoned connects, options and error mapping). The
 * transport contract itself is proven by conformance.test.ts.
 */
import { describe, expect, it } from "@effect/vitest"
import { BunTransport } from "@wirekit/bun"
import { Connection, Transport } from "@wirekit/core"
import { Duration, Effect, Exit, Fiber } from "effect"

const enc = new TextEncoder()
const dec = new TextDecoder()
const any = { host: "127.0.0.1", port: 0 }

const pattern = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (seed + i * 7) & 0xff
  return out
}

const withT = <A, E, R>(f: (t: Transport.TransportService) => Effect.Effect<A, E, R>) =>
  Effect.provide(Effect.flatMap(Transport.Transport, f), BunTransport.layer)

describe("BunTransport", () => {
  it.scopedLive("write queue: partial writes, small and large chunks, write and writeAll, keep every byte in order", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any)
        const c = yield* t.connect(l.address, { timeout: 2000, writeHighWaterMark: 32 * 1024 })
        const s = yield* l.accept
        // many tiny chunks (coalesced on flush), mid-size ones, batches under and
        // over the writev concatenation limit, and a few multi-MiB chunks
        const parts: Array<Uint8Array> = []
        let seed = 1
        for (let round = 0; round < 40; round++) {
          for (let i = 0; i < 50; i++) parts.push(pattern(1 + (i % 13), seed++))
          parts.push(pattern(20_000 + round, seed++))
          if (round % 10 === 0) parts.push(pattern(6 * 1024 * 1024 + round, seed++))
        }
        const expected = Connection.concat(parts)
        let maxBuffered = 0
        const writer = yield* Effect.fork(Effect.gen(function*() {
          let i = 0
          while (i < parts.length) {
            if (i % 3 === 0) {
              yield* c.write(parts[i]!)
              i++
            } else {
              const batch = parts.slice(i, i + 5 + (i % 40))
              yield* c.writeAll(batch)
              i += batch.length
            }
            maxBuffered = Math.max(maxBuffered, c.unsafeStats().writeBuffered)
          }
          yield* c.end
        }))
        // let the writer hit backpressure against the non-reading peer first
        yield* Effect.sleep(Duration.millis(200))
        expect(c.unsafeStats().writeBuffered).toBeGreaterThan(0)
        // a slow reader for a while, so that flushes from the queue are partial too
        const received: Array<Uint8Array> = []
        for (let i = 0;; i++) {
          const chunks = yield* s.readMany
          if (chunks === Connection.EOF) break
          received.push(...chunks)
          if (i < 200) yield* Effect.sleep(Duration.millis(1))
        }
        const got = Connection.concat(received)
        yield* Fiber.join(writer)
        expect(got.length).toBe(expected.length)
        expect(Buffer.compare(got, expected)).toBe(0)
        expect(c.unsafeStats().writeBuffered).toBe(0)
        // bounded by the mark plus one chunk handed over at once
        expect(maxBuffered).toBeLessThanOrEqual(32 * 1024 + 6 * 1024 * 1024 + 64)
      })
    ))

  it.scopedLive("end flushes the queue before the FIN", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any)
        const c = yield* t.connect(l.address, { timeout: 2000 })
        const s = yield* l.accept
        const data = pattern(8 * 1024 * 1024, 5)
        // the peer does not read yet: most of it waits in our queue when end is called
        yield* Effect.fork(Effect.zipRight(c.write(data), c.end))
        yield* Effect.sleep(Duration.millis(100))
        const got = yield* Connection.readAll(s)
        expect(Buffer.compare(got, data)).toBe(0)
      })
    ))

  it.scopedLive("allowHalfOpen: false ends our side when the peer's FIN arrives; later writes are Closed", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any, { allowHalfOpen: false })
        const c = yield* t.connect(l.address, { timeout: 2000 })
        const s = yield* l.accept
        yield* c.write(enc.encode("hi"))
        yield* c.end
        expect(dec.decode(yield* Connection.readAll(s))).toBe("hi")
        // the server never ended explicitly: its side was ended for it
        expect(yield* Connection.readAll(c)).toEqual(new Uint8Array(0))
        yield* s.closed.pipe(Effect.timeout(Duration.seconds(2)))
        const err = yield* Effect.flip(s.write(enc.encode("late")))
        expect(err.reason).toBe("Closed")
      })
    ))

  it.scopedLive("a connect abandoned by its timeout is reset if it completes later, never leaked", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any)
        let timedOut = 0
        for (let i = 0; i < 20; i++) {
          // timeout 0: the timer races the (fast) loopback connect
          const exit = yield* Effect.exit(Effect.scoped(t.connect(l.address, { timeout: 0 })))
          if (Exit.isFailure(exit)) {
            const err = yield* Effect.flip(exit)
            expect(err.reason).toBe("TimedOut")
            expect(err.timeout).toBe(0)
            timedOut++
          }
        }
        // every accepted connection ends: cleanly (scope closed after a successful
        // connect) or with a reset (an abandoned connect that completed later)
        let resets = 0
        for (let i = 0; i < 20; i++) {
          const s = yield* l.accept.pipe(Effect.timeout(Duration.seconds(2)))
          const read = yield* Effect.exit(Connection.readAll(s).pipe(Effect.timeout(Duration.seconds(2))))
          if (Exit.isFailure(read)) {
            const err = yield* Effect.flip(read)
            expect(err._tag === "ConnectionError" && err.reason).toBe("Reset")
            resets++
          }
        }
        expect(resets).toBe(timedOut)
      })
    ))

  it.scopedLive("reusePort lets two listeners share a port; without it the second is AddressInUse", () =>
    withT((t) =>
      Effect.gen(function*() {
        const a = yield* t.listen(any, { reusePort: true })
        const b = yield* t.listen(a.address, { reusePort: true })
        expect(b.address).toEqual(a.address)
        const plain = yield* t.listen(any)
        const err = yield* Effect.flip(t.listen(plain.address))
        expect(err.reason).toBe("AddressInUse")
        expect(err.code).toBe("EADDRINUSE")
      })
    ))

  it.scopedLive("ipv6Only on [::] refuses IPv4 clients; without it they connect", () =>
    withT((t) =>
      Effect.gen(function*() {
        const dual = yield* t.listen({ host: "::", port: 0 })
        const port = (dual.address as { port: number }).port
        const c = yield* t.connect({ host: "127.0.0.1", port }, { timeout: 2000 })
        expect((c.remoteAddress as { host: string }).host).toBe("127.0.0.1")
        const v6 = yield* t.listen({ host: "::", port: 0 }, { ipv6Only: true })
        const err = yield* Effect.flip(
          t.connect({ host: "127.0.0.1", port: (v6.address as { port: number }).port }, { timeout: 2000 })
        )
        expect(err.reason).toBe("Refused")
      })
    ))

  it.scopedLive("keepAlive and noDelay: false are accepted; the connection works", () =>
    withT((t) =>
      Effect.gen(function*() {
        const l = yield* t.listen(any, { keepAlive: true, keepAliveInitialDelay: 30_000, noDelay: false })
        const c = yield* t.connect(l.address, { timeout: 2000, keepAlive: true })
        const s = yield* l.accept
        yield* c.write(enc.encode("ka"))
        yield* c.end
        expect(dec.decode(yield* Connection.readAll(s))).toBe("ka")
      })
    ))

  it.scopedLive("errors: non-local address, missing Unix path, unresolvable host", () =>
    withT((t) =>
      Effect.gen(function*() {
        const notHere = yield* Effect.flip(t.listen({ host: "192.0.2.1", port: 0 }))
        expect(notHere.reason).toBe("AddressNotAvailable")
        expect(notHere.code).toBe("EADDRNOTAVAIL")
        const missing = yield* Effect.flip(
          t.connect({ path: `/tmp/wirekit-missing-${Date.now()}.sock` }, { timeout: 2000 })
        )
        expect(missing.reason).toBe("NotFound")
        expect(missing.code).toBe("ENOENT")
        const noHost = yield* Effect.flip(t.connect({ host: "no-such-host.invalid", port: 80 }, { timeout: 5000 }))
        expect(noHost.reason).toBe("NotFound")
      })
    ))

  it.scopedLive("a Unix listener removes its socket file when closed, so the path can be reused", () =>
    withT((t) =>
      Effect.gen(function*() {
        const path = `/tmp/wirekit-bun-${Date.now().toString(36)}.sock`
        const first = yield* Effect.scoped(Effect.map(t.listen({ path }), (l) => l.address))
        expect(first).toEqual({ path })
        const again = yield* t.listen({ path })
        expect(again.address).toEqual({ path })
      })
    ))
})
