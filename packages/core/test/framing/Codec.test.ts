import { describe, expect, it } from "@effect/vitest"
import { Codec, Connection, Framed, Lines, MemoryTransport, Transport } from "@wirekit/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import { bytes, cutMod, everySplit, splitPoints, str } from "./helpers.ts"

/** Numbers, one per line; a line that is not a number is bad input. */
const numbers: Codec.Codec<number> = Codec.overFrames(Lines.make({ maxLength: 32, encodeDelimiter: "lf" }), {
  decode: (frame) => {
    const n = Number(str(frame))
    if (!Number.isFinite(n) || str(frame).trim() === "") throw new Error(`not a number: ${JSON.stringify(str(frame))}`)
    return n
  },
  encode: (n) => {
    if (!Number.isFinite(n)) throw new Error(`cannot encode ${n}`)
    return bytes(String(n))
  }
})

const decodeChunks = (codec: Codec.Codec<number>, chunks: ReadonlyArray<Uint8Array>) => {
  const decoder = codec.decoder()
  const out: Array<number> = []
  for (const chunk of chunks) {
    const error = decoder.decode(chunk, out)
    if (error !== undefined) return { out, error }
  }
  return { out, error: decoder.finish(out) }
}

describe("Codec.overFrames", () => {
  it("decodes items at every split point of the stream", () => {
    const wire = bytes("1\n22\n-3.5\n1e3\n")
    for (const chunks of everySplit(wire)) {
      const { error, out } = decodeChunks(numbers, chunks)
      expect(error).toBeUndefined()
      expect(out).toEqual([1, 22, -3.5, 1000])
    }
  })

  it("random chunkings give the same items", () =>
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e6, max: 1e6 }), { maxLength: 40 }), splitPoints(), (ns, points) => {
        const wire = bytes(ns.map((n) => `${n}\n`).join(""))
        const { error, out } = decodeChunks(numbers, cutMod(wire, points))
        expect(error).toBeUndefined()
        expect(out).toEqual(ns)
      })
    ))

  it("an item that does not decode is a Corrupted error with the reason; items before it are delivered; the decoder stays failed", () => {
    const decoder = numbers.decoder()
    const out: Array<number> = []
    const error = decoder.decode(bytes("1\n2\nx\n3\n"), out)
    expect(out).toEqual([1, 2])
    expect(error?.reason).toBe("Corrupted")
    expect(error?.codec).toBe("Lines")
    expect(error?.detail).toBe("not a number: \"x\"")
    expect(decoder.decode(bytes("4\n"), out)).toBe(error)
    expect(decoder.finish(out)).toBe(error)
    expect(out).toEqual([1, 2])
  })

  it("the framing's own errors and limits pass through: a line over the max is FrameTooLarge", () => {
    const { error } = decodeChunks(numbers, [bytes("1".repeat(40))])
    expect(error?.reason).toBe("FrameTooLarge")
  })

  it("end of stream inside an item is Truncated", () => {
    const { error, out } = decodeChunks(numbers, [bytes("7\n8")])
    expect(out).toEqual([7])
    expect(error?.reason).toBe("Truncated")
  })

  it("encodes items into the buffer through the framing; an item that cannot be encoded writes nothing", () => {
    const encoder = numbers.encoder()
    const buf = ByteBuffer.make()
    expect(encoder.encode(42, buf)).toBeUndefined()
    const error = encoder.encode(Number.NaN, buf)
    expect(error?.reason).toBe("Corrupted")
    expect(encoder.encode(7, buf)).toBeUndefined()
    expect(str(buf.take())).toBe("42\n7\n")
  })
})

describe("Framed over a codec of items", () => {
  it.scoped("reads and writes numbers over a connection, one write per batch", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const l = yield* t.listen({ host: "127.0.0.1", port: 0 })
      const c = yield* t.connect(l.address)
      const s = yield* l.accept
      const server = Framed.make(s, numbers)
      const client = Framed.make(c, numbers)
      yield* client.sendAll([1, 2, 3])
      yield* client.flush
      yield* c.end
      const doubled = server.pump((ns) => {
        for (const n of ns) server.unsafeSend(n * 2)
      })
      yield* Effect.zipRight(doubled, s.end)
      const back: Array<number> = []
      while (true) {
        const n = yield* client.read
        if (n === Connection.EOF) break
        back.push(n)
      }
      expect(back).toEqual([2, 4, 6])
      expect(s.unsafeStats().writes).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(MemoryTransport.layer())))
})

describe("Codec.mapDecoder", () => {
  it("maps every item; errors, finish and buffered are the inner decoder's", () => {
    const lines = Codec.mapDecoder(Lines.make({ maxLength: 8 }).decoder(), (frame) => str(frame).length)
    const out: Array<number> = []
    expect(lines.decode(bytes("ab\nabcd\nxy"), out)).toBeUndefined()
    expect(out).toEqual([2, 4])
    expect(lines.buffered).toBe(2)
    expect(lines.finish(out)?.reason).toBe("Truncated")
    const tooLong = Codec.mapDecoder(Lines.make({ maxLength: 2 }).decoder(), (frame) => frame.length)
    expect(tooLong.decode(bytes("a\nabcdef\n"), out)?.reason).toBe("FrameTooLarge")
    expect(out).toEqual([2, 4, 1])
  })
})
