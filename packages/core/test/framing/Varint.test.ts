import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import { FramingConfigError } from "../../src/Framing.ts"
import * as Varint from "../../src/Varint.ts"
import {
  bytes,
  concat,
  cutMod,
  encodeAll,
  everySplit,
  hex,
  isViewOf,
  leb128,
  run,
  splitPoints,
  str,
  u8
} from "./helpers.ts"

const leb = (value: bigint): Uint8Array => new Uint8Array(leb128(value))

describe("Varint decoder", () => {
  it("decodes length-prefixed frames at every split point", () => {
    const wire = concat(u8(3), bytes("abc"), u8(0), u8(1), bytes("d"))
    for (const chunks of everySplit(wire)) {
      const r = run(Varint.make(), chunks)
      expect(r.error).toBeUndefined()
      expect(r.frames.map(str)).toEqual(["abc", "", "d"])
    }
  })

  it.each([
    [127, 1],
    [128, 2],
    [16383, 2],
    [16384, 3]
  ])("reads length %i from %i varint byte(s) and decodes the frame", (length, varintBytes) => {
    const prefix = leb(BigInt(length))
    expect(prefix.length).toBe(varintBytes)
    const body = new Uint8Array(length).fill(0x5a)
    const wire = concat(prefix, body, u8(0))
    expect(hex([encodeAll(Varint.make(), [body, new Uint8Array(0)])])).toEqual(hex([wire]))
    for (const at of [1, varintBytes, varintBytes + 1, wire.length - 1]) {
      const r = run(Varint.make(), [wire.slice(0, at), wire.slice(at)])
      expect(r.error).toBeUndefined()
      expect(r.frames.map((f) => f.length)).toEqual([length, 0])
    }
  })

  it("reads 2^32-1 (5 bytes) and 2^53-1 (8 bytes) and checks them against the max from the header alone", () => {
    const v32 = leb(2n ** 32n - 1n)
    expect(v32.length).toBe(5)
    const dec = Varint.make({ maxFrameLength: 2 ** 32 - 1 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(v32, out)).toBeUndefined()
    expect(dec.buffered).toBe(0)
    expect(Varint.make({ maxFrameLength: 2 ** 32 - 2 }).decoder().decode(v32, out)).toMatchObject({
      reason: "FrameTooLarge",
      limit: 2 ** 32 - 2,
      actual: 2 ** 32 - 1
    })
    const v53 = leb(BigInt(Number.MAX_SAFE_INTEGER))
    expect(v53.length).toBe(8)
    const big = Varint.make({ maxVarintBytes: 8, maxFrameLength: Number.MAX_SAFE_INTEGER })
    expect(big.decoder().decode(v53, out)).toBeUndefined()
    expect(big.decoder().decode(leb(2n ** 53n), out)).toMatchObject({
      reason: "FrameTooLarge",
      limit: Number.MAX_SAFE_INTEGER
    })
    expect(Varint.make({ maxVarintBytes: 8 }).decoder().decode(v53, out)).toMatchObject({
      reason: "FrameTooLarge",
      limit: Varint.DEFAULT_MAX_FRAME_LENGTH,
      actual: Number.MAX_SAFE_INTEGER
    })
    expect(out).toEqual([])
  })

  it("rejects an oversized length before the body, even with the varint split", () => {
    const dec = Varint.make({ maxFrameLength: 100 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(u8(0xe5), out)).toBeUndefined()
    expect(dec.buffered).toBe(1)
    expect(dec.decode(u8(0x00 + 1), out)).toMatchObject({ reason: "FrameTooLarge", limit: 100, actual: 229 })
  })

  it("accepts exactly max, rejects max + 1", () => {
    const framing = Varint.make({ maxFrameLength: 200 })
    expect(run(framing, [concat(leb(200n), new Uint8Array(200))]).frames[0].length).toBe(200)
    expect(run(framing, [leb(201n)]).error).toMatchObject({ reason: "FrameTooLarge", actual: 201 })
  })

  it("rejects overlong varints (more bytes than maxVarintBytes) as Corrupted", () => {
    const r = run(Varint.make(), [u8(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)])
    expect(r.error).toMatchObject({ reason: "Corrupted", codec: "Varint" })
    expect(r.error?.message).toContain("longer than 5 bytes")
    expect(run(Varint.make({ maxVarintBytes: 1 }), [u8(0x80)]).error).toMatchObject({ reason: "Corrupted" })
    expect(run(Varint.make({ maxVarintBytes: 2, maxFrameLength: 200 }), [u8(0x81, 0x01), new Uint8Array(129)]).error)
      .toBeUndefined()
  })

  it("rejects non-minimal varints unless allowNonMinimal", () => {
    expect(run(Varint.make(), [u8(0x80, 0x00)]).error).toMatchObject({ reason: "Corrupted" })
    expect(run(Varint.make(), [u8(0x83, 0x80, 0x00)]).error).toMatchObject({ reason: "Corrupted" })
    const lenient = run(Varint.make({ allowNonMinimal: true }), [u8(0x83, 0x80, 0x00), bytes("abc")])
    expect(lenient.error).toBeUndefined()
    expect(lenient.frames.map(str)).toEqual(["abc"])
  })

  it("returns Truncated inside a varint and inside a body", () => {
    expect(run(Varint.make(), [u8(0x80)]).error).toMatchObject({ reason: "Truncated", buffered: 1 })
    const r = run(Varint.make(), [concat(u8(5), bytes("ab"))])
    expect(r.error).toMatchObject({ reason: "Truncated", buffered: 2 })
    expect(r.error?.message).toContain("3 missing")
  })

  it("views frames inside a chunk", () => {
    const chunk = concat(u8(2), bytes("ab"), u8(1), bytes("c"))
    const r = run(Varint.make(), [chunk])
    expect(r.frames.every((f) => isViewOf(f, chunk))).toBe(true)
  })

  it("round-trips random frames through random chunkings", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), splitPoints(), (frames, points) => {
        const framing = Varint.make({ maxVarintBytes: 2 })
        const wire = encodeAll(framing, frames)
        expect(hex([wire])).toEqual(hex([concat(...frames.flatMap((f) => [leb(BigInt(f.length)), f]))]))
        const r = run(framing, cutMod(wire, points))
        expect(r.error).toBeUndefined()
        expect(hex(r.frames)).toEqual(hex(frames))
      }),
      { numRuns: 1000 }
    )
  })
})

describe("Varint encoder and options", () => {
  it("refuses frames over the max and writes nothing", () => {
    const buf = ByteBuffer.make()
    expect(Varint.make({ maxFrameLength: 2 }).encoder().encode(bytes("abc"), buf)).toMatchObject({
      reason: "FrameTooLarge",
      limit: 2,
      actual: 3
    })
    expect(buf.length).toBe(0)
  })

  it("caps the default max to what maxVarintBytes can describe and validates options", () => {
    expect(Varint.make().maxFrameLength).toBe(Varint.DEFAULT_MAX_FRAME_LENGTH)
    expect(Varint.make({ maxVarintBytes: 1 }).maxFrameLength).toBe(127)
    expect(Varint.make({ maxVarintBytes: 2 }).maxFrameLength).toBe(16383)
    for (
      const options of [
        { maxVarintBytes: 0 },
        { maxVarintBytes: 9 },
        { maxVarintBytes: 1, maxFrameLength: 128 },
        { maxFrameLength: -1 },
        { maxFrameLength: 2 ** 35 },
        { allowNonMinimal: "yes" as never }
      ]
    ) {
      expect(() => Varint.make(options)).toThrow(FramingConfigError)
    }
  })
})
