import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import { hex, leb128 } from "./helpers.ts"

const bytesOf = (buf: ByteBuffer.ByteBuffer) => hex([buf.take()])[0]

const leb = leb128

describe("ByteBuffer", () => {
  it("writes integers in both byte orders", () => {
    const buf = ByteBuffer.make(0)
    buf.writeUint8(0xab)
    buf.writeUint16BE(0x0102)
    buf.writeUint16LE(0x0102)
    buf.writeUint24BE(0x010203)
    buf.writeUint24LE(0x010203)
    buf.writeUint32BE(0xdeadbeef)
    buf.writeUint32LE(0xdeadbeef)
    expect(buf.length).toBe(19)
    expect(bytesOf(buf)).toBe("ab 01 02 02 01 01 02 03 03 02 01 de ad be ef ef be ad de")
  })

  it("writes 64-bit values from bigint and safe numbers", () => {
    const buf = ByteBuffer.make()
    buf.writeUint64(1)
    buf.writeUint64LE(1n)
    buf.writeUint64BE(0xfedcba9876543210n)
    buf.writeUint64(Number.MAX_SAFE_INTEGER)
    expect(bytesOf(buf)).toBe(
      "00 00 00 00 00 00 00 01 01 00 00 00 00 00 00 00 fe dc ba 98 76 54 32 10 00 1f ff ff ff ff ff ff"
    )
    expect(() => buf.writeUint64(2 ** 53)).toThrow(RangeError)
    expect(() => buf.writeUint64(2n ** 64n)).toThrow(RangeError)
    expect(() => buf.writeUint64(-1n)).toThrow(RangeError)
    expect(buf.length).toBe(0)
  })

  it("throws RangeError on values that do not fit", () => {
    const buf = ByteBuffer.make()
    expect(() => buf.writeUint8(256)).toThrow(RangeError)
    expect(() => buf.writeUint16BE(-1)).toThrow(RangeError)
    expect(() => buf.writeUint32LE(1.5)).toThrow(RangeError)
    expect(() => buf.writeVarint(-1)).toThrow(RangeError)
    expect(() => buf.writeVarint(2 ** 53)).toThrow(RangeError)
    expect(buf.length).toBe(0)
  })

  it("writes varints at the group boundaries", () => {
    const cases: Array<[number | bigint, string]> = [
      [0, "00"],
      [127, "7f"],
      [128, "80 01"],
      [300, "ac 02"],
      [16383, "ff 7f"],
      [16384, "80 80 01"],
      [2 ** 32 - 1, "ff ff ff ff 0f"],
      [Number.MAX_SAFE_INTEGER, "ff ff ff ff ff ff ff 0f"],
      [2n ** 64n - 1n, "ff ff ff ff ff ff ff ff ff 01"]
    ]
    for (const [value, expected] of cases) {
      const buf = ByteBuffer.make(1)
      const n = buf.writeVarint(value)
      expect(n).toBe(expected.split(" ").length)
      expect(bytesOf(buf)).toBe(expected)
    }
  })

  it("writes the same varints as a reference implementation", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 70n }), (v) => {
        const buf = ByteBuffer.make(2)
        buf.writeVarint(v)
        if (v <= BigInt(Number.MAX_SAFE_INTEGER)) buf.writeVarint(Number(v))
        const once = leb(v)
        const expected = v <= BigInt(Number.MAX_SAFE_INTEGER) ? [...once, ...once] : once
        expect(Array.from(buf.take())).toEqual(expected)
      }),
      { numRuns: 1000 }
    )
  })

  it("writes UTF-8", () => {
    const buf = ByteBuffer.make(1)
    expect(buf.writeUtf8("hé€😀")).toBe(10)
    expect(new TextDecoder().decode(buf.take())).toBe("hé€😀")
    expect(buf.writeUtf8("")).toBe(0)
  })

  it("never overwrites bytes returned by take()", () => {
    const op = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: "write" as const, b })),
      fc.constant({ kind: "take" as const }),
      fc.constant({ kind: "clear" as const })
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.array(op, { maxLength: 30 }), (initial, ops) => {
        const buf = ByteBuffer.make(initial)
        const taken: Array<[Uint8Array, Array<number>]> = []
        let model: Array<number> = []
        for (const o of ops) {
          if (o.kind === "write") {
            buf.writeBytes(o.b)
            model.push(...o.b)
          } else if (o.kind === "take") {
            const out = buf.take()
            expect(Array.from(out)).toEqual(model)
            taken.push([out, model])
            model = []
          } else {
            buf.clear()
            model = []
          }
          expect(buf.length).toBe(model.length)
        }
        for (const [out, expected] of taken) expect(Array.from(out)).toEqual(expected)
      }),
      { numRuns: 500 }
    )
  })

  it("reuses storage for small takes and releases storage above the retention limit", () => {
    const buf = ByteBuffer.make(1024)
    buf.writeBytes(new Uint8Array(10))
    buf.take()
    expect(buf.capacity).toBe(1024)
    buf.writeBytes(new Uint8Array(1_000_000))
    expect(buf.capacity).toBeGreaterThanOrEqual(1_000_000)
    const big = buf.take()
    expect(big.length).toBe(1_000_000)
    // after a hand-over the next store fits a batch like the last, but never more than 4× the retention limit
    buf.writeUint8(1)
    expect(buf.capacity).toBeLessThanOrEqual(4 * ByteBuffer.DEFAULT_MAX_RETAINED_CAPACITY)
    buf.take()
    // a batch of just over 64 KiB: after the first, each one fits its store without regrowing,
    // and the store is about the batch's size (1/8 more, whole KiB), not the next power of two
    buf.writeBytes(new Uint8Array(65_600))
    buf.take()
    buf.writeUint8(1)
    expect(buf.capacity).toBe(73 * 1024)
    buf.writeBytes(new Uint8Array(65_599))
    expect(buf.capacity).toBe(73 * 1024)
    buf.take()
    buf.writeBytes(new Uint8Array(70_000)) // a slightly larger batch still fits
    expect(buf.capacity).toBe(73 * 1024)
    buf.take()
    buf.writeBytes(new Uint8Array(200_000))
    buf.clear()
    expect(buf.length).toBe(0)
    expect(buf.capacity).toBeLessThanOrEqual(ByteBuffer.DEFAULT_MAX_RETAINED_CAPACITY)
  })

  it("release: a peeked view stays intact while later writes go to a new store; clear keeps a store within the retention", () => {
    const buf = ByteBuffer.make(0, 128 * 1024)
    buf.writeBytes(new Uint8Array(100_000).fill(7))
    const sent = buf.peek()
    buf.release()
    expect(buf.length).toBe(0)
    buf.writeBytes(new Uint8Array(100_000).fill(9))
    expect(sent.length).toBe(100_000)
    expect(sent.every((b) => b === 7)).toBe(true)
    // a 100 KB batch fits the 128 KiB retention: clear keeps the store (no allocation next time)
    const cap = buf.capacity
    expect(cap).toBeGreaterThanOrEqual(100_000)
    buf.clear()
    expect(buf.capacity).toBe(cap)
    // above the retention the store is dropped, and the next one is sized for such a batch
    buf.writeBytes(new Uint8Array(300_000))
    buf.clear()
    expect(buf.capacity).toBe(0)
    buf.writeUint8(1)
    expect(buf.capacity).toBe(128 * 1024)
    expect(() => ByteBuffer.make(0, -1)).toThrow(RangeError)
  })

  it("reuse: a released store comes back as storage only while the buffer is empty and has none", () => {
    const buf = ByteBuffer.make(0)
    buf.writeBytes(new Uint8Array(1000).fill(1))
    const store = buf.release()
    expect(store.length).toBeGreaterThanOrEqual(1000)
    expect(buf.reuse(store)).toBe(true)
    expect(buf.capacity).toBe(store.length)
    buf.writeUint8(5)
    expect(store[0]).toBe(5) // written into the reused store, no new allocation
    expect(buf.reuse(new Uint8Array(64))).toBe(false) // has storage (and bytes) already
    buf.clear()
    expect(buf.reuse(new Uint8Array(64))).toBe(false) // empty but still has storage
  })

  it("reserve, truncate, peek and partial writeBytes", () => {
    const buf = ByteBuffer.make(0)
    buf.reserve(100)
    expect(buf.capacity).toBeGreaterThanOrEqual(100)
    expect(buf.length).toBe(0)
    buf.writeBytes(new Uint8Array([1, 2, 3, 4, 5]), 1, 4)
    expect(Array.from(buf.peek())).toEqual([2, 3, 4])
    buf.truncate(1)
    expect(Array.from(buf.take())).toEqual([2])
    expect(() => buf.truncate(5)).toThrow(RangeError)
    expect(buf.take().length).toBe(0)
  })

  it("setUint32BE fills in a length prefix written before its body, only inside what is written", () => {
    const buf = ByteBuffer.make(0)
    buf.writeUint8(9)
    buf.writeUint32BE(0)
    buf.writeUtf8("héllo")
    buf.setUint32BE(1, buf.length - 5)
    expect(Array.from(buf.peek())).toEqual([9, 0, 0, 0, 6, 0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f])
    buf.setUint32BE(buf.length - 4, 0xfffefdfc)
    expect(Array.from(buf.peek().subarray(-4))).toEqual([0xff, 0xfe, 0xfd, 0xfc])
    expect(() => buf.setUint32BE(buf.length - 3, 1)).toThrow(RangeError) // would pass the end
    expect(() => buf.setUint32BE(0, 2 ** 32)).toThrow(RangeError)
    expect(() => ByteBuffer.make(0).setUint32BE(0, 1)).toThrow(RangeError) // nothing written
  })
})
