import { describe, expect, it } from "@effect/vitest"
import { ByteBuffer, Framing } from "@wirekit/core"
import * as fc from "fast-check"
import * as OctetCounting from "../src/wire/OctetCounting.ts"
import * as TcpFraming from "../src/wire/TcpFraming.ts"
import { bytes, concat, cutAt, decodeChunks, everySplit } from "./helpers.ts"

const m1 = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8"
const m2 = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts."
const m3 = "<13>Dec  3 20:51:53 vm root: hello\nwith a line feed inside" // octet counting carries any byte

const octets = (...messages: Array<string>) => concat(...messages.map((m) => OctetCounting.frame(bytes(m))))

describe("OctetCounting (RFC 6587 3.4.1)", () => {
  const framing = OctetCounting.make({ maxLength: 8192 })

  it("decodes LEN SP MSG frames, LF and any byte inside a message included, cut at every point", () => {
    const wire = octets(m1, m2, m3)
    expect(new TextDecoder().decode(wire.subarray(0, 4))).toBe(`${bytes(m1).length} `)
    for (const chunks of everySplit(wire)) {
      for (const lent of [false, true]) {
        const r = decodeChunks(framing, chunks, lent)
        expect(r.error).toBeUndefined()
        expect(r.finish).toBeUndefined()
        expect(r.frames).toEqual([m1, m2, m3])
      }
    }
  })

  it("decodes any messages under any chunking (fast-check), holding at most one message's bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        (messages, rawCuts, lent) => {
          const wire = concat(...messages.map((m) => OctetCounting.frame(m)))
          const cuts = [...new Set(rawCuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
          const decoder = framing.decoder()
          const got: Array<Uint8Array> = []
          for (const original of cutAt(wire, cuts)) {
            const chunk = lent ? original.slice() : original
            const out: Array<Uint8Array> = []
            expect(decoder.decode(chunk, out, lent)).toBeUndefined()
            for (const f of out) got.push(f.slice())
            if (lent) chunk.fill(0xee)
            expect(decoder.buffered).toBeLessThanOrEqual(300)
          }
          expect(decoder.finish([])).toBeUndefined()
          expect(got).toEqual(messages)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("refuses a MSG-LEN over maxLength as soon as its digits say so, before buffering the message", () => {
    const small = OctetCounting.make({ maxLength: 100 })
    const r = decodeChunks(small, [bytes("5 hello"), bytes("101 "), bytes("x".repeat(101))])
    expect(r.frames).toEqual(["hello"])
    expect(r.error).toMatchObject({ _tag: "FramingError", reason: "FrameTooLarge", limit: 100, actual: 101 })
    // a 20-digit length fails at its 4th digit: nothing close to it is ever allocated
    const huge = decodeChunks(small, [bytes("99999999999999999999 x")])
    expect(huge.error).toMatchObject({ reason: "FrameTooLarge", actual: 999 })
    // 100 itself is fine
    expect(decodeChunks(small, [OctetCounting.frame(bytes("y".repeat(100)))]).frames).toEqual(["y".repeat(100)])
  })

  it("refuses a leading zero, a non-digit, a missing length; the decoder stays failed", () => {
    for (
      const [wire, detail] of [
        ["0 x", /starts with 0/],
        ["012 <13>1 - - - - - -", /starts with 0/],
        ["12x", /byte 0x78 in MSG-LEN/],
        [" 3 abc", /a space where MSG-LEN was expected/],
        ["3 abc\n4 abcd", /byte 0x0a in MSG-LEN/]
      ] as const
    ) {
      const decoder = framing.decoder()
      const out: Array<Uint8Array> = []
      const error = decoder.decode(bytes(wire), out)
      expect(error).toMatchObject({ reason: "Corrupted", codec: "OctetCounting" })
      expect(error?.message).toMatch(detail)
      expect(decoder.decode(bytes("3 abc"), out)).toBe(error)
    }
  })

  it("finish: nothing left is fine; a partial length or message is Truncated with what it held", () => {
    expect(decodeChunks(framing, [octets("abc")]).finish).toBeUndefined()
    expect(decodeChunks(framing, [bytes("12")]).finish).toMatchObject({ reason: "Truncated", buffered: 2 })
    expect(decodeChunks(framing, [bytes("10 abc")]).finish).toMatchObject({ reason: "Truncated", buffered: 3 })
  })

  it("encodes LEN SP MSG and refuses an empty or oversized message", () => {
    const small = OctetCounting.make({ maxLength: 3 })
    const buf = new ByteBuffer.ByteBuffer()
    const encoder = small.encoder()
    expect(encoder.encode(bytes("abc"), buf)).toBeUndefined()
    expect(new TextDecoder().decode(buf.take())).toBe("3 abc")
    expect(encoder.encode(bytes("abcd"), buf)).toMatchObject({ reason: "FrameTooLarge", actual: 4 })
    expect(encoder.encode(new Uint8Array(0), buf)).toMatchObject({ reason: "Corrupted" })
    expect(buf.length).toBe(0)
    expect(() => OctetCounting.make({ maxLength: 0 })).toThrow(Framing.FramingConfigError)
  })
})

describe("TcpFraming: the framing is picked per connection from its first byte", () => {
  const framing = TcpFraming.make({ maxLength: 200 })

  it("a digit: octet counting, for the whole connection (a message may hold LFs)", () => {
    const wire = octets(m1.slice(0, 150), m3)
    for (const chunks of everySplit(wire)) {
      const r = decodeChunks(framing, chunks)
      expect(r.error).toBeUndefined()
      expect(r.frames).toEqual([m1.slice(0, 150), m3])
    }
    const decoder = framing.decoder()
    decoder.decode(bytes("5"), [])
    expect(decoder.mode).toBe("octet-counting")
  })

  it("'<': newline framing; CRLF or LF ends a message, empty lines are skipped, the last line needs no LF", () => {
    const wire = bytes(`${m1.slice(0, 150)}\r\n\n${m2}\n\r\n<13>last`)
    for (const chunks of everySplit(wire)) {
      for (const lent of [false, true]) {
        const r = decodeChunks(framing, chunks, lent)
        expect(r.error).toBeUndefined()
        expect(r.finish).toBeUndefined()
        expect(r.frames).toEqual([m1.slice(0, 150), m2, "<13>last"])
      }
    }
    const decoder = framing.decoder()
    expect(decoder.mode).toBeUndefined()
    decoder.decode(new Uint8Array(0), [])
    expect(decoder.mode).toBeUndefined()
    decoder.decode(bytes("<"), [])
    expect(decoder.mode).toBe("non-transparent")
  })

  it("a connection that starts with anything else is read as lines (each then fails to parse, not to frame)", () => {
    const r = decodeChunks(framing, [Uint8Array.of(0, 0xff, 0x10, 10, 0x41, 10)])
    expect(r.error).toBeUndefined()
    expect(r.frames.length).toBe(2)
  })

  it("bounds both framings by maxLength: a longer message is FrameTooLarge (what closes the connection)", () => {
    const long = decodeChunks(framing, [bytes(`<13>${"x".repeat(196)}\n<13>${"y".repeat(197)}`)])
    expect(long.frames).toEqual([`<13>${"x".repeat(196)}`])
    expect(long.error).toMatchObject({ reason: "FrameTooLarge", limit: 200 })
    expect(long.maxBuffered).toBeLessThanOrEqual(201)
    const declared = decodeChunks(framing, [bytes("201 ")])
    expect(declared.error).toMatchObject({ reason: "FrameTooLarge", codec: "OctetCounting", actual: 201 })
  })

  it("random chunkings of a mixed newline stream give the same messages (fast-check)", () => {
    const line = fc.stringMatching(/^<[0-9]{1,3}>[ -~]{0,60}$/)
    fc.assert(
      fc.property(
        fc.array(line, { minLength: 1, maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (lines, raw) => {
          const wire = bytes(lines.map((l, i) => `${l}${i % 2 === 0 ? "\n" : "\r\n"}`).join(""))
          const cuts = [...new Set(raw.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b)
          const r = decodeChunks(framing, cutAt(wire, cuts))
          expect(r.error).toBeUndefined()
          expect(r.frames).toEqual(lines)
        }
      ),
      { numRuns: 300 }
    )
  })
})
