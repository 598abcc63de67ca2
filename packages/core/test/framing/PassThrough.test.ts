import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import * as PassThrough from "../../src/PassThrough.ts"
import { bytes, concat, cutMod, everySplit, hex, run, splitPoints, str } from "./helpers.ts"

describe("PassThrough", () => {
  it("emits every non-empty chunk as a frame, zero-copy", () => {
    const a = bytes("abc")
    const b = bytes("d")
    const r = run(PassThrough.make(), [a, new Uint8Array(0), b])
    expect(r.error).toBeUndefined()
    expect(r.frames).toHaveLength(2)
    expect(r.frames[0]).toBe(a)
    expect(r.frames[1]).toBe(b)
    expect(r.decoder.buffered).toBe(0)
  })

  it("writes frames as is, with an infinite max", () => {
    const framing = PassThrough.make()
    expect(framing.maxFrameLength).toBe(Infinity)
    expect(framing.codec).toBe("PassThrough")
    const buf = ByteBuffer.make()
    const enc = framing.encoder()
    expect(enc.encode(bytes("ab"), buf)).toBeUndefined()
    expect(enc.encode(bytes("c"), buf)).toBeUndefined()
    expect(str(buf.take())).toBe("abc")
  })

  it("preserves the byte stream at every split point and under random chunkings", () => {
    const data = bytes("hello, world")
    for (const chunks of everySplit(data)) {
      const r = run(PassThrough.make(), chunks)
      expect(hex(r.frames)).toEqual(hex(chunks.filter((c) => c.length > 0)))
      expect(str(concat(...r.frames))).toBe("hello, world")
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), splitPoints(), (payload, points) => {
        const chunks = cutMod(payload, points)
        const r = run(PassThrough.make(), chunks)
        expect(r.error).toBeUndefined()
        expect(r.frames.every((f) => f.length > 0)).toBe(true)
        expect(hex([concat(...r.frames)])).toEqual(hex([payload]))
      }),
      { numRuns: 500 }
    )
  })
})
