import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import { FramingConfigError } from "../../src/Framing.ts"
import * as LengthField from "../../src/LengthField.ts"
import { bytes, concat, cutMod, encodeAll, everySplit, hex, isViewOf, run, splitPoints, str, u8 } from "./helpers.ts"

/** Field bytes of `value`, written independently of the encoder under test. */
const field = (value: bigint, size: number, endian: "big" | "little"): Uint8Array => {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) {
    const b = Number((value >> BigInt(8 * i)) & 0xffn)
    out[endian === "big" ? size - 1 - i : i] = b
  }
  return out
}

const header = (value: number | bigint, size: number, endian: "big" | "little" = "big") =>
  field(BigInt(value), size, endian)

describe("LengthField decoder", () => {
  it("decodes 2-byte big endian frames, stripping the header by default", () => {
    const r = run(LengthField.make({ fieldLength: 2 }), [
      concat(u8(0, 3), bytes("abc"), u8(0, 0), u8(0, 1), bytes("d"))
    ])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["abc", "", "d"])
  })

  it("gives the same frames at every single split point", () => {
    const framing = LengthField.make({ fieldLength: 4, fieldOffset: 1, bytesToStrip: 1, lengthAdjustment: -4 })
    // value counts the length field itself; one type byte before it, stripped
    const wire = concat(u8(7, 0, 0, 0, 7), bytes("abc"), u8(8, 0, 0, 0, 4), u8(9, 0, 0, 0, 5), bytes("z"))
    const expected = ["00 00 00 07 61 62 63", "00 00 00 04", "00 00 00 05 7a"]
    expect(hex(run(framing, [wire]).frames)).toEqual(expected)
    for (const chunks of everySplit(wire)) {
      const r = run(framing, chunks)
      expect(r.error).toBeUndefined()
      expect(hex(r.frames)).toEqual(expected)
    }
  })

  it("emits zero-copy views for frames inside one chunk, copies for spanning frames", () => {
    const framing = LengthField.make({ fieldLength: 1 })
    const chunk1 = concat(u8(2), bytes("ab"), u8(3), bytes("c"))
    const chunk2 = bytes("de")
    const dec = framing.decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(chunk1, out)).toBeUndefined()
    expect(dec.buffered).toBe(2) // header + "c"
    expect(dec.decode(chunk2, out)).toBeUndefined()
    expect(out.map(str)).toEqual(["ab", "cde"])
    expect(isViewOf(out[0], chunk1)).toBe(true)
    expect(isViewOf(out[1], chunk1) || isViewOf(out[1], chunk2)).toBe(false)
  })

  it("a frame spanning owned reads keeps the reads and joins them once; buffered counts the memory they keep", () => {
    const framing = LengthField.make({ fieldLength: 4 })
    const body = Uint8Array.from({ length: 20_000 }, (_, i) => i % 251)
    const wire = concat(header(body.length, 4), body)
    // read 1: 3 KiB of something else, then the frame's first 5 KiB (a view worth keeping: most of its read)
    const first = new Uint8Array(8192)
    first.set(wire.subarray(0, 5120), 3072)
    const rest = [wire.slice(5120, 15_000), wire.slice(15_000, 15_100), wire.slice(15_100)]
    const dec = framing.decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(first.subarray(3072), out)).toBeUndefined()
    // the 5 KiB read (4 of them the stripped header), and the 3 KiB before it that the kept view keeps alive
    expect(dec.buffered).toBe(4 + 8192)
    expect(dec.decode(rest[0]!, out)).toBeUndefined()
    expect(dec.buffered).toBe(4 + 8192 + 9880)
    expect(dec.decode(rest[1]!, out)).toBeUndefined() // 100 bytes: copied, counted as they are
    expect(dec.buffered).toBe(4 + 8192 + 9880 + 100)
    expect(dec.decode(rest[2]!, out)).toBeUndefined()
    expect(out.length).toBe(1)
    expect(out[0]).toEqual(body)
    expect(dec.buffered).toBe(0)
  })

  it("lent reads are copied: a frame spanning them is intact after the reader reuses their memory", () => {
    const framing = LengthField.make({ fieldLength: 2 })
    const body = Uint8Array.from({ length: 30_000 }, (_, i) => (i * 7) % 256)
    const wire = concat(header(body.length, 2), body)
    const dec = framing.decoder()
    const out: Array<Uint8Array> = []
    const buffer = new Uint8Array(10_000) // one read buffer, reused for every read
    for (let at = 0; at < wire.length; at += buffer.length) {
      const n = Math.min(buffer.length, wire.length - at)
      buffer.set(wire.subarray(at, at + n))
      expect(dec.decode(buffer.subarray(0, n), out, true)).toBeUndefined()
      buffer.fill(0xee)
    }
    expect(out.length).toBe(1)
    expect(out[0]).toEqual(body)
  })

  it("rejects an oversized header before its body arrives, with limit and actual", () => {
    const dec = LengthField.make({ fieldLength: 4, maxFrameLength: 1000 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(u8(0, 0), out)).toBeUndefined()
    const error = dec.decode(u8(0x10, 0x00), out) // 4096, header only
    expect(error).toMatchObject({
      _tag: "FramingError",
      reason: "FrameTooLarge",
      codec: "LengthField",
      limit: 1000,
      actual: 4096
    })
    expect(error?.message).toBe("LengthField: frame too large: 4096 bytes, limit 1000")
    expect(dec.decode(new Uint8Array(4096), out)).toBe(error)
    expect(out).toEqual([])
  })

  it("checks the max against the length AFTER adjustment", () => {
    // the value counts its own 2 bytes: value 12 = 10-byte body
    const framing = LengthField.make({ fieldLength: 2, lengthAdjustment: -2, maxFrameLength: 10 })
    const ok = run(framing, [concat(header(12, 2), new Uint8Array(10))])
    expect(ok.error).toBeUndefined()
    expect(ok.frames[0].length).toBe(10)
    expect(run(framing, [header(13, 2)]).error).toMatchObject({ reason: "FrameTooLarge", limit: 10, actual: 11 })
  })

  it("accepts bodies of length 0, exactly max, and rejects max + 1", () => {
    const framing = LengthField.make({ fieldLength: 2, maxFrameLength: 300 })
    expect(run(framing, [header(0, 2)]).frames).toEqual([new Uint8Array(0)])
    const max = run(framing, [concat(header(300, 2), new Uint8Array(300).fill(7))])
    expect(max.error).toBeUndefined()
    expect(max.frames[0]).toEqual(new Uint8Array(300).fill(7))
    expect(run(framing, [header(301, 2)]).error).toMatchObject({ reason: "FrameTooLarge", limit: 300, actual: 301 })
  })

  it.each(
    [
      [1, 255],
      [2, 65535],
      [3, 2 ** 24 - 1],
      [4, 2 ** 32 - 1]
    ] as const
  )("reads the largest %i-byte value (%i) in both byte orders", (size, largest) => {
    for (const endian of ["big", "little"] as const) {
      const atMax = LengthField.make({ fieldLength: size, endian, maxFrameLength: largest }).decoder()
      const out: Array<Uint8Array> = []
      expect(atMax.decode(header(largest, size, endian), out)).toBeUndefined() // waits for the body
      expect(atMax.buffered).toBe(size)
      const below = LengthField.make({ fieldLength: size, endian, maxFrameLength: largest - 1 }).decoder()
      expect(below.decode(header(largest, size, endian), out)).toMatchObject({
        reason: "FrameTooLarge",
        limit: largest - 1,
        actual: largest
      })
    }
  })

  it("reads an 8-byte field as two halves; values above 2^53-1 are FrameTooLarge", () => {
    for (const endian of ["big", "little"] as const) {
      const framing = LengthField.make({ fieldLength: 8, endian, maxFrameLength: Number.MAX_SAFE_INTEGER })
      const dec = framing.decoder()
      const out: Array<Uint8Array> = []
      expect(dec.decode(header(BigInt(Number.MAX_SAFE_INTEGER), 8, endian), out)).toBeUndefined()
      expect(dec.buffered).toBe(8)
      for (const value of [2n ** 53n, 2n ** 64n - 1n, 2n ** 63n]) {
        const error = framing.decoder().decode(header(value, 8, endian), out)
        expect(error).toMatchObject({ reason: "FrameTooLarge", limit: Number.MAX_SAFE_INTEGER })
      }
      // a value using both halves
      const small = LengthField.make({ fieldLength: 8, endian, maxFrameLength: 2 ** 40 })
      expect(small.decoder().decode(header(2n ** 40n + 1n, 8, endian), out)).toMatchObject({ actual: 2 ** 40 + 1 })
      expect(run(small, [concat(header(3, 8, endian), bytes("abc"))]).frames.map(str)).toEqual(["abc"])
    }
  })

  it("reports a negative adjusted length as Corrupted", () => {
    const framing = LengthField.make({ fieldLength: 1, lengthAdjustment: -2 })
    const r = run(framing, [u8(1)])
    expect(r.error).toMatchObject({ reason: "Corrupted", codec: "LengthField" })
    expect(r.error?.message).toContain("negative")
    expect(run(framing, [u8(2)]).frames).toEqual([new Uint8Array(0)])
  })

  it("reports a frame shorter than bytesToStrip as Corrupted", () => {
    const framing = LengthField.make({ fieldLength: 1, bytesToStrip: 3 })
    expect(run(framing, [u8(1, 9)]).error).toMatchObject({ reason: "Corrupted" })
    expect(hex(run(framing, [u8(3, 1, 2, 3)]).frames)).toEqual(["03"])
    expect(run(framing, [u8(2, 1, 2)]).frames).toEqual([new Uint8Array(0)])
  })

  it("returns Truncated inside a header and inside a body", () => {
    const framing = LengthField.make({ fieldLength: 4 })
    expect(run(framing, [u8(0, 0)]).error).toMatchObject({ reason: "Truncated", buffered: 2 })
    const r = run(framing, [concat(header(5, 4), bytes("ab"))])
    expect(r.error).toMatchObject({ reason: "Truncated", buffered: 6 })
    expect(r.error?.message).toContain("3 missing")
    expect(run(framing, []).error).toBeUndefined()
  })

  it("round-trips every option combination through the encoder and random chunkings", () => {
    const config = fc
      .record({
        fieldLength: fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const, 8 as const),
        endian: fc.constantFrom("big" as const, "little" as const),
        fieldOffset: fc.integer({ min: 0, max: 3 }),
        lengthAdjustment: fc.integer({ min: -12, max: 4 }),
        strip: fc.nat()
      })
      .map((c) => ({ ...c, bytesToStrip: c.strip % (c.fieldOffset + c.fieldLength + 1) }))
    const frameArb = fc.uint8Array({ maxLength: 24 })
    fc.assert(
      fc.property(config, fc.array(frameArb, { maxLength: 6 }), splitPoints(), (c, frames, points) => {
        const headerLength = c.fieldOffset + c.fieldLength
        const framing = LengthField.make({
          fieldLength: c.fieldLength,
          endian: c.endian,
          fieldOffset: c.fieldOffset,
          lengthAdjustment: c.lengthAdjustment,
          bytesToStrip: c.bytesToStrip,
          maxFrameLength: 200
        })
        const enc = framing.encoder()
        const buf = ByteBuffer.make(8)
        const expected: Array<Uint8Array> = []
        for (const frame of frames) {
          const bodyLength = frame.length - c.fieldOffset
          const value = bodyLength - c.lengthAdjustment
          const error = enc.encode(frame, buf)
          if (bodyLength < 0 || value < 0) {
            expect(error).toMatchObject({ reason: "Corrupted" })
            continue
          }
          expect(error).toBeUndefined()
          const wire = concat(
            frame.subarray(0, c.fieldOffset),
            header(value, c.fieldLength, c.endian),
            frame.subarray(c.fieldOffset)
          )
          expect(wire.length).toBe(headerLength + bodyLength)
          expected.push(wire.subarray(c.bytesToStrip))
        }
        const r = run(framing, cutMod(buf.take(), points))
        expect(r.error).toBeUndefined()
        expect(hex(r.frames)).toEqual(hex(expected))
      }),
      { numRuns: 2000 }
    )
  })
})

describe("LengthField encoder", () => {
  it("writes a big endian length by default and mirrors decode with fieldOffset 0", () => {
    const framing = LengthField.make()
    const wire = encodeAll(framing, [bytes("hi"), bytes("")])
    expect(hex([wire])).toEqual(["00 00 00 02 68 69 00 00 00 00"])
    expect(run(framing, [wire]).frames.map(str)).toEqual(["hi", ""])
  })

  it("inserts the length after a fieldOffset prefix taken from the frame", () => {
    const framing = LengthField.make({ fieldOffset: 1, fieldLength: 2, bytesToStrip: 0 })
    const wire = encodeAll(framing, [bytes("Tabc")])
    expect(hex([wire])).toEqual(["54 00 03 61 62 63"])
    expect(hex(run(framing, [wire]).frames)).toEqual(["54 00 03 61 62 63"])
    const buf = ByteBuffer.make()
    expect(framing.encoder().encode(new Uint8Array(0), buf)).toMatchObject({ reason: "Corrupted" })
    expect(buf.length).toBe(0)
  })

  it("refuses a frame over the max (and writes nothing); accepts exactly the max", () => {
    const enc = LengthField.make({ fieldLength: 1 }).encoder()
    const buf = ByteBuffer.make()
    expect(enc.encode(new Uint8Array(256), buf)).toMatchObject({ reason: "FrameTooLarge", limit: 255, actual: 256 })
    expect(buf.length).toBe(0)
    expect(enc.encode(new Uint8Array(255), buf)).toBeUndefined()
    expect(buf.length).toBe(256)
  })

  it("writes each field size in both byte orders", () => {
    for (const fieldLength of [1, 2, 3, 4, 8] as const) {
      for (const endian of ["big", "little"] as const) {
        const wire = encodeAll(LengthField.make({ fieldLength, endian }), [bytes("xyz")])
        expect(hex([wire])).toEqual(hex([concat(header(3, fieldLength, endian), bytes("xyz"))]))
      }
    }
  })
})

describe("LengthField.make", () => {
  const configError = (options: LengthField.Options): FramingConfigError => {
    try {
      LengthField.make(options)
    } catch (e) {
      expect(e).toBeInstanceOf(FramingConfigError)
      return e as FramingConfigError
    }
    throw new Error(`no error for ${JSON.stringify(options)}`)
  }

  it("rejects a max the field cannot express, compared after adjustment", () => {
    expect(configError({ fieldLength: 1, maxFrameLength: 300 })).toMatchObject({ option: "maxFrameLength" })
    expect(configError({ fieldLength: 1, maxFrameLength: 300 }).message).toContain("255")
    expect(LengthField.make({ fieldLength: 1, maxFrameLength: 255 }).maxFrameLength).toBe(255)
    expect(LengthField.make({ fieldLength: 1, lengthAdjustment: 45, maxFrameLength: 300 }).maxFrameLength).toBe(300)
    expect(configError({ fieldLength: 1, lengthAdjustment: -1, maxFrameLength: 255 })).toMatchObject({
      option: "maxFrameLength"
    })
    expect(configError({ fieldLength: 2, maxFrameLength: 65536 })).toMatchObject({ option: "maxFrameLength" })
  })

  it("caps the default max to what the field can describe", () => {
    expect(LengthField.make().maxFrameLength).toBe(LengthField.DEFAULT_MAX_FRAME_LENGTH)
    expect(LengthField.make({ fieldLength: 1 }).maxFrameLength).toBe(255)
    expect(LengthField.make({ fieldLength: 2, lengthAdjustment: -2 }).maxFrameLength).toBe(65533)
  })

  it("rejects an adjustment that makes every body negative", () => {
    expect(configError({ fieldLength: 1, lengthAdjustment: -256 })).toMatchObject({ option: "lengthAdjustment" })
    expect(LengthField.make({ fieldLength: 1, lengthAdjustment: -255 }).maxFrameLength).toBe(0)
  })

  it("rejects malformed options", () => {
    expect(configError({ fieldLength: 5 as never })).toMatchObject({ option: "fieldLength" })
    expect(configError({ fieldOffset: -1 })).toMatchObject({ option: "fieldOffset" })
    expect(configError({ fieldOffset: 1.5 })).toMatchObject({ option: "fieldOffset" })
    expect(configError({ bytesToStrip: -1 })).toMatchObject({ option: "bytesToStrip" })
    expect(configError({ lengthAdjustment: 0.5 })).toMatchObject({ option: "lengthAdjustment" })
    expect(configError({ maxFrameLength: -1 })).toMatchObject({ option: "maxFrameLength" })
    expect(configError({ maxFrameLength: NaN })).toMatchObject({ option: "maxFrameLength" })
    expect(configError({ endian: "middle" as never })).toMatchObject({ option: "endian" })
  })

  it("rejects bytesToStrip past header + max (every frame would be Corrupted)", () => {
    expect(configError({ fieldLength: 1, maxFrameLength: 4, bytesToStrip: 6 })).toMatchObject({
      option: "bytesToStrip"
    })
    expect(LengthField.make({ fieldLength: 1, maxFrameLength: 4, bytesToStrip: 5 }).codec).toBe("LengthField")
  })
})
