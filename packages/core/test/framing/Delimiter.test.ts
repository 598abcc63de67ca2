import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import * as Delimiter from "../../src/Delimiter.ts"
import { FramingConfigError, type FramingError } from "../../src/Framing.ts"
import { bytes, concat, cutMod, encodeAll, everySplit, hex, isViewOf, run, splitPoints, str } from "./helpers.ts"

const endsWith = (data: Uint8Array, end: number, delim: Uint8Array, floor: number): boolean => {
  const start = end - delim.length
  if (start < floor) return false
  for (let j = 0; j < delim.length; j++) if (data[start + j] !== delim[j]) return false
  return true
}

/** Naive oracle: walk end positions one by one; at each, the longest delimiter ending there wins. */
const model = (
  data: Uint8Array,
  delims: ReadonlyArray<Uint8Array>,
  o: { strip: boolean; max: number; discard: boolean; emitLast: boolean }
) => {
  const frames: Array<Uint8Array> = []
  const discards: Array<number> = []
  let start = 0
  for (let end = 1; end <= data.length; end++) {
    let best = 0
    for (const d of delims) if (d.length > best && endsWith(data, end, d, start)) best = d.length
    if (best === 0) continue
    const content = end - best - start
    if (content > o.max) {
      if (!o.discard) return { frames, reason: "FrameTooLarge" as FramingError["reason"] | undefined, discards }
      discards.push(content)
    } else {
      frames.push(data.slice(start, o.strip ? end - best : end))
    }
    start = end
  }
  const rest = data.length - start
  if (rest > 0) {
    // longest suffix that is a proper prefix of a delimiter
    let k = 0
    for (const d of delims) {
      for (let len = Math.min(d.length - 1, rest); len > k; len--) {
        if (endsWith(data, data.length, d.subarray(0, len), start)) k = len
      }
    }
    if (rest - k > o.max || (o.emitLast && rest > o.max)) {
      if (!o.discard) return { frames, reason: "FrameTooLarge" as const, discards }
      discards.push(rest)
    } else if (o.emitLast) {
      frames.push(data.slice(start))
    } else {
      return { frames, reason: "Truncated" as const, discards }
    }
  }
  return { frames, reason: undefined, discards }
}

const alphabet = [0x61, 0x62, 0x63] // a b c: tiny alphabet, lots of overlapping matches
const delimArb = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 4 }).map((xs) => new Uint8Array(xs))
const delimsArb = fc.array(delimArb, { minLength: 1, maxLength: 3 })
const dataArb = fc.array(fc.constantFrom(...alphabet, 0x78), { maxLength: 50 }).map((xs) => new Uint8Array(xs))

describe("Delimiter decoder", () => {
  it("splits on a single delimiter, stripping it", () => {
    const r = run(Delimiter.make({ delimiters: "\0" }), [bytes("ab\0\0c\0")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["ab", "", "c"])
  })

  it("keeps the delimiter with stripDelimiter: false", () => {
    const r = run(Delimiter.make({ delimiters: ["END"], stripDelimiter: false }), [
      bytes("aEND"),
      bytes("bEN"),
      bytes("D")
    ])
    expect(r.frames.map(str)).toEqual(["aEND", "bEND"])
  })

  it("the match ending first wins; on a tie the longest", () => {
    const d = (delimiters: Array<string>, input: string) =>
      run(Delimiter.make({ delimiters, emitLastFrameAtEof: true }), [bytes(input)]).frames.map(str)
    expect(d(["END", "ND"], "xENDy")).toEqual(["x", "y"])
    expect(d(["ND", "END"], "xENDy")).toEqual(["x", "y"])
    expect(d(["abcd", "c"], "xabcd")).toEqual(["xab", "d"])
    expect(d(["\r\n", "\n"], "a\r\nb\nc")).toEqual(["a", "b", "c"])
  })

  it("finds a multi-byte delimiter split across chunks at every split point", () => {
    const data = bytes("one<EOM>two<EOM><EOM>three<EOM>")
    for (const chunks of everySplit(data)) {
      const r = run(Delimiter.make({ delimiters: "<EOM>" }), chunks)
      expect(r.error).toBeUndefined()
      expect(r.frames.map(str)).toEqual(["one", "two", "", "three"])
    }
  })

  it("emits zero-copy views for frames inside one chunk", () => {
    const chunk = bytes("ab||cd||e")
    const dec = Delimiter.make({ delimiters: "||" }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(chunk, out)).toBeUndefined()
    expect(out.map(str)).toEqual(["ab", "cd"])
    expect(out.every((f) => isViewOf(f, chunk))).toBe(true)
    expect(dec.buffered).toBe(1)
  })

  it("matches the naive model for random delimiter sets, streams and chunkings", () => {
    fc.assert(
      fc.property(
        delimsArb,
        dataArb,
        splitPoints(),
        fc.record({
          strip: fc.boolean(),
          max: fc.integer({ min: 0, max: 8 }),
          discard: fc.boolean(),
          emitLast: fc.boolean()
        }),
        (delims, data, points, o) => {
          const discards: Array<number> = []
          const framing = Delimiter.make({
            delimiters: delims,
            stripDelimiter: o.strip,
            maxLength: o.max,
            onTooLong: o.discard ? "discard" : "fail",
            onDiscard: (info) => discards.push(info.actual),
            emitLastFrameAtEof: o.emitLast
          })
          const r = run(framing, cutMod(data, points))
          const expected = model(data, delims, o)
          expect(hex(r.frames)).toEqual(hex(expected.frames))
          expect(r.error?.reason).toEqual(expected.reason)
          expect(discards).toEqual(expected.discards)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("rejects an over-long frame before its delimiter arrives, tolerating a partial delimiter", () => {
    const dec = Delimiter.make({ delimiters: "<EOM>", maxLength: 3 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(bytes("abc<EO"), out)).toBeUndefined() // "<EO" may be a delimiter start
    expect(dec.buffered).toBe(6)
    expect(dec.decode(bytes("X"), out)).toMatchObject({ reason: "FrameTooLarge", codec: "Delimiter", limit: 3 })
  })

  it("accepts frames of length 0 and exactly max; rejects max + 1", () => {
    const framing = Delimiter.make({ delimiters: "|", maxLength: 3 })
    expect(run(framing, [bytes("|abc|")]).frames.map(str)).toEqual(["", "abc"])
    expect(run(framing, [bytes("abcd|")]).error).toMatchObject({ reason: "FrameTooLarge", limit: 3, actual: 4 })
  })

  it("discard policy continues after the over-long frame", () => {
    const seen: Array<Delimiter.DiscardInfo> = []
    const framing = Delimiter.make({
      delimiters: "||",
      maxLength: 2,
      onTooLong: "discard",
      onDiscard: (i) => seen.push(i)
    })
    const r = run(framing, [bytes("ok||toolo"), bytes("ng|"), bytes("|fine||")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["ok"])
    expect(seen).toEqual([
      { limit: 2, actual: 7 },
      { limit: 2, actual: 4 }
    ])
    expect((r.decoder as Delimiter.DelimiterDecoder).discarded).toBe(2)
  })

  it("returns Truncated at EOF with a partial frame, or emits it with emitLastFrameAtEof", () => {
    expect(run(Delimiter.make({ delimiters: ";" }), [bytes("a;bc")]).error).toMatchObject({
      reason: "Truncated",
      buffered: 2
    })
    expect(run(Delimiter.make({ delimiters: ";", emitLastFrameAtEof: true }), [bytes("a;bc")]).frames.map(str)).toEqual(
      [
        "a",
        "bc"
      ]
    )
  })
})

describe("Delimiter encoder", () => {
  it("appends the chosen delimiter", () => {
    expect(str(encodeAll(Delimiter.make({ delimiters: ["\r\n", "\n"] }), [bytes("a")]))).toBe("a\r\n")
    expect(str(encodeAll(Delimiter.make({ delimiters: ["\r\n", "\n"], encodeDelimiter: 1 }), [bytes("a")]))).toBe("a\n")
  })

  it("refuses a frame containing a delimiter and writes nothing", () => {
    const buf = ByteBuffer.make()
    expect(Delimiter.make({ delimiters: ["||"] }).encoder().encode(bytes("a||b"), buf)).toMatchObject({
      reason: "Corrupted",
      codec: "Delimiter"
    })
    expect(buf.length).toBe(0)
  })

  it("refuses frames over maxLength", () => {
    const buf = ByteBuffer.make()
    expect(Delimiter.make({ delimiters: ";", maxLength: 2 }).encoder().encode(bytes("abc"), buf)).toMatchObject({
      reason: "FrameTooLarge",
      limit: 2,
      actual: 3
    })
    expect(buf.length).toBe(0)
  })

  it("accepts a frame exactly when the decoder gives it back unchanged", () => {
    fc.assert(
      fc.property(
        delimsArb,
        fc.array(dataArb.map((d) => d.subarray(0, 8)), { maxLength: 6 }),
        splitPoints(),
        (delims, frames, points) => {
          const framing = Delimiter.make({ delimiters: delims })
          // the delimiter the encoder appends: the first that decodes as itself
          const written = delims.find((d) =>
            model(d, delims, { strip: true, max: 99, discard: false, emitLast: true }).frames.length === 1
          )!
          expect(written).toBeDefined()
          const enc = framing.encoder()
          const buf = ByteBuffer.make(8)
          const accepted: Array<Uint8Array> = []
          for (const f of frames) {
            const roundTrips = hex(
              model(concat(f, written), delims, { strip: true, max: 99, discard: false, emitLast: false }).frames
            )
            const error = enc.encode(f, buf)
            expect(error === undefined).toBe(roundTrips.length === 1 && roundTrips[0] === hex([f])[0])
            if (error === undefined) accepted.push(f)
          }
          const r = run(framing, cutMod(buf.take(), points))
          expect(r.error).toBeUndefined()
          expect(hex(r.frames)).toEqual(hex(accepted))
        }
      ),
      { numRuns: 1500 }
    )
  })
})

describe("Delimiter.make", () => {
  it("throws FramingConfigError for invalid options", () => {
    const bad: Array<[unknown, string]> = [
      [{ delimiters: [] }, "delimiters"],
      [{ delimiters: "" }, "delimiters"],
      [{ delimiters: [new Uint8Array(0)] }, "delimiters"],
      [{ delimiters: [3] }, "delimiters"],
      [{ delimiters: "x".repeat(257) }, "delimiters"],
      [{}, "delimiters"],
      [{ delimiters: ";", maxLength: -1 }, "maxLength"],
      [{ delimiters: ";", encodeDelimiter: 1 }, "encodeDelimiter"],
      [{ delimiters: ["abc", "b"], encodeDelimiter: 0 }, "encodeDelimiter"],
      [{ delimiters: ";", onTooLong: "skip" }, "onTooLong"]
    ]
    for (const [options, option] of bad) {
      expect(() => Delimiter.make(options as Delimiter.Options)).toThrow(FramingConfigError)
      try {
        Delimiter.make(options as Delimiter.Options)
      } catch (e) {
        expect(e).toMatchObject({ _tag: "FramingConfigError", codec: "Delimiter", option })
      }
    }
  })

  it("defaults the written delimiter to the first one that decodes as itself", () => {
    const framing = Delimiter.make({ delimiters: ["abcd", "c"] })
    expect(str(encodeAll(framing, [bytes("x")]))).toBe("xc")
    expect(run(framing, [bytes("xabcd")], false).frames.map(str)).toEqual(["xab"])
  })

  it("defaults maxLength to 64 KiB and copies delimiter bytes", () => {
    const delim = bytes(";")
    const framing = Delimiter.make({ delimiters: delim })
    delim[0] = 0x2c
    expect(framing.maxFrameLength).toBe(Delimiter.DEFAULT_MAX_LENGTH)
    expect(run(framing, [bytes("a;")]).frames.map(str)).toEqual(["a"])
  })
})
