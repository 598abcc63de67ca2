import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import * as FixedLength from "../../src/FixedLength.ts"
import { FramingConfigError } from "../../src/Framing.ts"
import { bytes, cutMod, everySplit, hex, isViewOf, run, splitPoints, str } from "./helpers.ts"

describe("FixedLength", () => {
  it("cuts every frameLength bytes at every split point", () => {
    const data = bytes("abcdefghi")
    for (const chunks of everySplit(data)) {
      const r = run(FixedLength.make({ frameLength: 3 }), chunks)
      expect(r.error).toBeUndefined()
      expect(r.frames.map(str)).toEqual(["abc", "def", "ghi"])
    }
  })

  it("matches slicing for random data, sizes and chunkings", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.uint8Array({ maxLength: 60 }),
        splitPoints(),
        (size, data, points) => {
          const r = run(FixedLength.make({ frameLength: size }), cutMod(data, points))
          const whole = Math.floor(data.length / size)
          const expected = Array.from({ length: whole }, (_, i) => data.slice(i * size, (i + 1) * size))
          expect(hex(r.frames)).toEqual(hex(expected))
          if (data.length % size === 0) expect(r.error).toBeUndefined()
          else expect(r.error).toMatchObject({ reason: "Truncated", buffered: data.length % size })
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("views frames inside a chunk, copies spanning ones", () => {
    const c1 = bytes("abcd")
    const c2 = bytes("ef")
    const dec = FixedLength.make({ frameLength: 3 }).decoder()
    const out: Array<Uint8Array> = []
    dec.decode(c1, out)
    expect(dec.buffered).toBe(1)
    dec.decode(c2, out)
    expect(out.map(str)).toEqual(["abc", "def"])
    expect(isViewOf(out[0], c1)).toBe(true)
    expect(isViewOf(out[1], c1) || isViewOf(out[1], c2)).toBe(false)
    expect(dec.finish(out)).toBeUndefined()
  })

  it("encodes frames of exactly frameLength only", () => {
    const framing = FixedLength.make({ frameLength: 2 })
    expect(framing.maxFrameLength).toBe(2)
    const enc = framing.encoder()
    const buf = ByteBuffer.make()
    expect(enc.encode(bytes("abc"), buf)).toMatchObject({ reason: "FrameTooLarge", limit: 2, actual: 3 })
    expect(enc.encode(bytes("a"), buf)).toMatchObject({ reason: "Corrupted", codec: "FixedLength" })
    expect(buf.length).toBe(0)
    expect(enc.encode(bytes("ab"), buf)).toBeUndefined()
    expect(str(buf.take())).toBe("ab")
  })

  it("rejects invalid frameLength", () => {
    for (const frameLength of [0, -1, 1.5, NaN, undefined]) {
      expect(() => FixedLength.make({ frameLength } as FixedLength.Options)).toThrow(FramingConfigError)
    }
  })
})
