import { describe, expect, it } from "@effect/vitest"
import { Connection, Framed, LengthField, MemoryTransport, Transport } from "@wirekit/core"
import { Effect, Either } from "effect"
import * as Framing from "../../src/Framing.ts"

const framing = LengthField.make({ fieldLength: 2 })
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const wire = (...frames: Array<string>) => {
  const r = Framing.encodeAll(framing, frames.map((f) => new TextEncoder().encode(f)))
  if (Either.isLeft(r)) throw r.left
  return r.right
}

/** A connected pair on a fresh memory network: the client side and the accepted side. */
const pair = Effect.gen(function*() {
  const t = yield* Transport.Transport
  const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
  const c = yield* t.connect(l.address)
  const s = yield* l.accept
  return { c, s }
})

describe("Framed: switching from pull to push", () => {
  it.scoped("frames decoded by `read` but not returned yet are the first ones `pump` delivers", () =>
    Effect.gen(function*() {
      const { c, s } = yield* pair
      yield* c.write(wire("a", "b", "c")) // one chunk: `read` decodes all three at once
      const framed = Framed.make(s, framing)
      const first = yield* framed.read
      expect(first === Connection.EOF ? "EOF" : text(first)).toBe("a")
      yield* c.write(wire("d"))
      yield* c.end
      const rest: Array<string> = []
      yield* framed.pump((frames) => {
        for (const f of frames) rest.push(text(f))
      })
      expect(rest).toEqual(["b", "c", "d"])
    }).pipe(Effect.provide(MemoryTransport.layer())))

  it.scoped("an end already met by `readMany` ends `pump` after the held frames", () =>
    Effect.gen(function*() {
      const { c, s } = yield* pair
      yield* c.write(wire("x", "y"))
      yield* c.end
      const framed = Framed.make(s, framing)
      // pull until the end is seen: `read` keeps "y" decoded and the end pending
      const first = yield* framed.read
      expect(first === Connection.EOF ? "EOF" : text(first)).toBe("x")
      const rest: Array<string> = []
      yield* framed.pump((frames) => {
        for (const f of frames) rest.push(text(f))
      })
      expect(rest).toEqual(["y"])
    }).pipe(Effect.provide(MemoryTransport.layer())))
})
