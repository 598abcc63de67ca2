import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ByteBuffer from "../../src/ByteBuffer.ts"
import { FramingConfigError, FramingError } from "../../src/Framing.ts"
import * as Lines from "../../src/Lines.ts"
import { bytes, concat, cutMod, encodeAll, everySplit, hex, isViewOf, run, splitPoints, str, u8 } from "./helpers.ts"

const LF = 10
const CR = 13

interface Expected {
  readonly frames: Array<Uint8Array>
  readonly reason: FramingError["reason"] | undefined
  readonly discards: Array<number>
}

/** Straightforward model of the Lines decoder over the whole stream at once. */
const model = (
  data: Uint8Array,
  o: { crlf: boolean; strip: boolean; max: number; discard: boolean; emitLast: boolean }
): Expected => {
  const frames: Array<Uint8Array> = []
  const discards: Array<number> = []
  let start = 0
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== LF) continue
    const delim = o.crlf && i > start && data[i - 1] === CR ? 2 : 1
    const content = i + 1 - delim - start
    if (content > o.max) {
      if (!o.discard) return { frames, reason: "FrameTooLarge", discards }
      discards.push(content)
    } else {
      frames.push(data.slice(start, o.strip ? i + 1 - delim : i + 1))
    }
    start = i + 1
  }
  const rest = data.length - start
  if (rest > 0) {
    const lowerBound = rest - (o.crlf && data[data.length - 1] === CR ? 1 : 0)
    if (lowerBound > o.max || (o.emitLast && rest > o.max)) {
      if (!o.discard) return { frames, reason: "FrameTooLarge", discards }
      discards.push(rest)
    } else if (o.emitLast) {
      frames.push(data.slice(start))
    } else {
      return { frames, reason: "Truncated", discards }
    }
  }
  return { frames, reason: undefined, discards }
}

/** Random streams built from a tiny alphabet rich in CR/LF. */
const streamArb = fc
  .array(fc.constantFrom(LF, CR, 0x61, 0x62, 0xc3, 0xa9), { maxLength: 60 })
  .map((xs) => new Uint8Array(xs))

describe("Lines decoder", () => {
  it("splits CRLF and LF lines, empty lines included, stripping line ends", () => {
    const r = run(Lines.make(), [bytes("PING\r\nGET k\n\r\n\nlast\r\n")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["PING", "GET k", "", "", "last"])
  })

  it("keeps the CR in lf mode and lone CRs are data", () => {
    const r = run(Lines.make({ delimiter: "lf" }), [bytes("a\r\nb\rc\n")])
    expect(r.frames.map(str)).toEqual(["a\r", "b\rc"])
    const r2 = run(Lines.make(), [bytes("b\rc\r\r\n")])
    expect(r2.frames.map(str)).toEqual(["b\rc\r"])
  })

  it("keeps the delimiter with stripDelimiter: false", () => {
    const r = run(Lines.make({ stripDelimiter: false }), [bytes("a\r\nb\n")])
    expect(r.frames.map(str)).toEqual(["a\r\n", "b\n"])
  })

  it("emits zero-copy views for lines inside one chunk and copies for split lines", () => {
    const chunk1 = bytes("one\ntw")
    const chunk2 = bytes("o\nthree\n")
    const dec = Lines.make().decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(chunk1, out)).toBeUndefined()
    expect(dec.buffered).toBe(2)
    expect(dec.decode(chunk2, out)).toBeUndefined()
    expect(dec.buffered).toBe(0)
    expect(out.map(str)).toEqual(["one", "two", "three"])
    expect(isViewOf(out[0], chunk1)).toBe(true)
    expect(isViewOf(out[1], chunk1) || isViewOf(out[1], chunk2)).toBe(false)
    expect(isViewOf(out[2], chunk2)).toBe(true)
  })

  it("treats CR at the end of a chunk and LF at the start of the next as one delimiter", () => {
    const r = run(Lines.make(), [bytes("abc\r"), bytes("\ndef\r"), bytes("\n")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["abc", "def"])
    const keep = run(Lines.make({ stripDelimiter: false }), [bytes("abc\r"), bytes("\n")])
    expect(keep.frames.map(str)).toEqual(["abc\r\n"])
  })

  it("gives the same frames at every single split point", () => {
    const data = bytes("a\r\n\r\nbc\n\nd\re\r\nfgh\n")
    const whole = run(Lines.make(), [data])
    expect(whole.frames.map(str)).toEqual(["a", "", "bc", "", "d\re", "fgh"])
    for (const chunks of everySplit(data)) {
      for (const o of [{}, { stripDelimiter: false }, { delimiter: "lf" as const }]) {
        expect(hex(run(Lines.make(o), chunks).frames)).toEqual(hex(run(Lines.make(o), [data]).frames))
      }
    }
  })

  it("matches the model for thousands of random streams and chunkings", () => {
    fc.assert(
      fc.property(
        streamArb,
        splitPoints(),
        fc.record({
          crlf: fc.boolean(),
          strip: fc.boolean(),
          max: fc.integer({ min: 0, max: 6 }),
          discard: fc.boolean(),
          emitLast: fc.boolean()
        }),
        (data, points, o) => {
          const discards: Array<number> = []
          const framing = Lines.make({
            delimiter: o.crlf ? "crlf-or-lf" : "lf",
            stripDelimiter: o.strip,
            maxLength: o.max,
            onTooLong: o.discard ? "discard" : "fail",
            onDiscard: (info) => {
              expect(info.limit).toBe(o.max)
              discards.push(info.actual)
            },
            emitLastLineAtEof: o.emitLast
          })
          const r = run(framing, cutMod(data, points))
          const expected = model(data, o)
          expect(hex(r.frames)).toEqual(hex(expected.frames))
          expect(r.error?.reason).toEqual(expected.reason)
          expect(discards).toEqual(expected.discards)
          expect((r.decoder as Lines.LinesDecoder).discarded).toBe(discards.length)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("accepts a line of exactly maxLength, even with its CRLF split", () => {
    const framing = Lines.make({ maxLength: 4 })
    const r = run(framing, [bytes("abcd\r"), bytes("\n")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["abcd"])
    expect(run(framing, [bytes("abcd\n")]).frames.map(str)).toEqual(["abcd"])
    expect(run(framing, [bytes("\n")]).frames.map(str)).toEqual([""])
  })

  it("rejects maxLength + 1 as soon as it is buffered, before any line end", () => {
    const dec = Lines.make({ maxLength: 4 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(bytes("ok\nabcd"), out)).toBeUndefined()
    expect(dec.buffered).toBe(4)
    const error = dec.decode(bytes("e"), out)
    expect(error).toBeInstanceOf(FramingError)
    expect(error).toMatchObject({ reason: "FrameTooLarge", codec: "Lines", limit: 4, actual: 5 })
    expect(out.map(str)).toEqual(["ok"])
    // the decoder is failed for good
    expect(dec.decode(bytes("\n"), out)).toBe(error)
    expect(dec.finish(out)).toBe(error)
  })

  it("rejects a complete over-long line with its exact length", () => {
    const r = run(Lines.make({ maxLength: 3 }), [bytes("abcdefg\r\n")])
    expect(r.error).toMatchObject({ reason: "FrameTooLarge", limit: 3, actual: 7 })
    expect(r.error?.message).toBe("Lines: frame too large: 7 bytes, limit 3")
  })

  it("tolerates one trailing CR beyond the max, then rejects a non-LF byte", () => {
    const dec = Lines.make({ maxLength: 2 }).decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(bytes("ab\r"), out)).toBeUndefined()
    expect(dec.decode(bytes("x"), out)).toMatchObject({ reason: "FrameTooLarge", limit: 2 })
  })

  it("never buffers more than maxLength + 1 bytes", () => {
    fc.assert(
      fc.property(streamArb, splitPoints(), fc.integer({ min: 0, max: 5 }), (data, points, max) => {
        const dec = Lines.make({ maxLength: max, onTooLong: "discard" }).decoder()
        const out: Array<Uint8Array> = []
        for (const chunk of cutMod(data, points)) {
          expect(dec.decode(chunk, out)).toBeUndefined()
          expect(dec.buffered).toBeLessThanOrEqual(max + 1)
        }
      }),
      { numRuns: 500 }
    )
  })

  it("discard policy drops the long line and continues with the next one", () => {
    const seen: Array<Lines.DiscardInfo> = []
    const framing = Lines.make({ maxLength: 3, onTooLong: "discard", onDiscard: (info) => seen.push(info) })
    const dec = framing.decoder()
    const out: Array<Uint8Array> = []
    expect(dec.decode(bytes("ok\nwaytoo"), out)).toBeUndefined()
    expect(dec.discarded).toBe(0)
    expect(dec.decode(bytes("long\r"), out)).toBeUndefined()
    expect(dec.decode(bytes("\nnext\nyes\n"), out)).toBeUndefined()
    expect(out.map(str)).toEqual(["ok", "yes"])
    expect(seen).toEqual([
      { limit: 3, actual: 10 },
      { limit: 3, actual: 4 }
    ])
    expect(dec.discarded).toBe(2)
    expect(dec.finish(out)).toBeUndefined()
  })

  it("reports a line being discarded at end of stream without failing", () => {
    const seen: Array<number> = []
    const r = run(Lines.make({ maxLength: 2, onTooLong: "discard", onDiscard: (i) => seen.push(i.actual) }), [
      bytes("a\nbcdef")
    ])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["a"])
    expect(seen).toEqual([5])
  })

  it("returns Truncated for an unterminated last line by default", () => {
    const r = run(Lines.make(), [bytes("a\nbc")])
    expect(r.frames.map(str)).toEqual(["a"])
    expect(r.failedIn).toBe("finish")
    expect(r.error).toMatchObject({ reason: "Truncated", codec: "Lines", buffered: 2 })
    expect(r.error?.message).toContain("2 bytes buffered")
  })

  it("emits an unterminated last line with emitLastLineAtEof", () => {
    const r = run(Lines.make({ emitLastLineAtEof: true }), [bytes("a\nb"), bytes("c")])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["a", "bc"])
    expect(run(Lines.make({ emitLastLineAtEof: true }), [bytes("a\n")]).frames.map(str)).toEqual(["a"])
  })

  it("finishes cleanly on an empty stream and ignores empty chunks", () => {
    const r = run(Lines.make(), [new Uint8Array(0), bytes("x\n"), new Uint8Array(0)])
    expect(r.error).toBeUndefined()
    expect(r.frames.map(str)).toEqual(["x"])
  })
})

describe("Lines encoder", () => {
  it("appends CRLF by default and LF for delimiter lf", () => {
    expect(str(encodeAll(Lines.make(), [bytes("a"), bytes("")]))).toBe("a\r\n\r\n")
    expect(str(encodeAll(Lines.make({ delimiter: "lf" }), [bytes("a")]))).toBe("a\n")
    expect(str(encodeAll(Lines.make({ encodeDelimiter: "lf" }), [bytes("a")]))).toBe("a\n")
  })

  it("refuses frames containing LF, and writes nothing", () => {
    const buf = ByteBuffer.make()
    const error = Lines.make().encoder().encode(bytes("a\nb"), buf)
    expect(error).toMatchObject({ reason: "Corrupted", codec: "Lines" })
    expect(buf.length).toBe(0)
  })

  it("refuses a trailing CR when it would merge with an LF line end", () => {
    const buf = ByteBuffer.make()
    expect(Lines.make({ encodeDelimiter: "lf" }).encoder().encode(bytes("a\r"), buf)).toMatchObject({
      reason: "Corrupted"
    })
    expect(buf.length).toBe(0)
    // with CRLF it round-trips
    const crlf = Lines.make()
    expect(run(crlf, [encodeAll(crlf, [bytes("a\r")])]).frames.map(str)).toEqual(["a\r"])
  })

  it("refuses frames over maxLength, accepts exactly maxLength", () => {
    const enc = Lines.make({ maxLength: 3 }).encoder()
    const buf = ByteBuffer.make()
    expect(enc.encode(bytes("abcd"), buf)).toMatchObject({ reason: "FrameTooLarge", limit: 3, actual: 4 })
    expect(buf.length).toBe(0)
    expect(enc.encode(bytes("abc"), buf)).toBeUndefined()
    expect(str(buf.take())).toBe("abc\r\n")
  })

  it("round-trips random frames through random chunkings; refuses exactly the frames that would not", () => {
    const frameArb = fc.array(fc.constantFrom(CR, 0x61, 0x20, 0xe2, 0x82, 0xac), { maxLength: 8 }).map((xs) =>
      new Uint8Array(xs)
    )
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 8 }),
        fc.constantFrom("lf" as const, "crlf" as const),
        fc.boolean(),
        splitPoints(),
        (frames, encodeDelimiter, lfOnly, points) => {
          const framing = Lines.make({ encodeDelimiter, delimiter: lfOnly ? "lf" : "crlf-or-lf" })
          const enc = framing.encoder()
          const buf = ByteBuffer.make(4)
          const accepted: Array<Uint8Array> = []
          for (const f of frames) {
            const error = enc.encode(f, buf)
            const endsWithCR = f.length > 0 && f[f.length - 1] === CR
            const shouldRefuse = !lfOnly && encodeDelimiter === "lf" && endsWithCR
            expect(error !== undefined).toBe(shouldRefuse)
            if (error === undefined) accepted.push(f)
          }
          const wire = buf.take()
          const r = run(framing, cutMod(wire, points))
          expect(r.error).toBeUndefined()
          const expected = lfOnly && encodeDelimiter === "crlf" ? accepted.map((f) => concat(f, u8(CR))) : accepted
          expect(hex(r.frames)).toEqual(hex(expected))
        }
      ),
      { numRuns: 1000 }
    )
  })
})

describe("Lines.make", () => {
  it("exposes codec and maxFrameLength with safe defaults", () => {
    expect(Lines.make().codec).toBe("Lines")
    expect(Lines.make().maxFrameLength).toBe(Lines.DEFAULT_MAX_LENGTH)
    expect(Lines.make({ maxLength: 10 }).maxFrameLength).toBe(10)
  })

  it("throws FramingConfigError for invalid options", () => {
    const bad: Array<[Lines.Options, string]> = [
      [{ maxLength: -1 }, "maxLength"],
      [{ maxLength: 1.5 }, "maxLength"],
      [{ maxLength: Infinity }, "maxLength"],
      [{ delimiter: "cr" as never }, "delimiter"],
      [{ onTooLong: "ignore" as never }, "onTooLong"],
      [{ encodeDelimiter: "cr" as never }, "encodeDelimiter"],
      [{ onDiscard: 3 as never }, "onDiscard"]
    ]
    for (const [options, option] of bad) {
      let thrown: unknown
      try {
        Lines.make(options)
      } catch (e) {
        thrown = e
      }
      expect(thrown).toBeInstanceOf(FramingConfigError)
      expect(thrown).toMatchObject({ codec: "Lines", option })
      expect((thrown as FramingConfigError).message).toContain(option)
    }
  })
})
