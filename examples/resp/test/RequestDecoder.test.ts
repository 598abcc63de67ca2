import { describe, expect, it } from "@effect/vitest"
import { Framing } from "@wirekit/core"
import * as fc from "fast-check"
import * as Resp from "../src/Resp.ts"
import { bytes, concat, cutAt, decode, encode, everySplit, isViewOf, multibulk, str } from "./helpers.ts"

const protocolError = (wire: string | Uint8Array, limits?: Resp.Limits) => {
  const r = decode([typeof wire === "string" ? bytes(wire) : wire], limits)
  return r.error === undefined ? undefined : encode(Resp.protocolErrorReply(r.error))
}

describe("RequestDecoder: multi-bulk", () => {
  const seen: Array<Array<string>> = []
  it("decodes commands, several per chunk", () => {
    const r = decode([concat(multibulk("SET", "k", "v"), multibulk("GET", "k"), multibulk("PING"))])
    expect(r.error).toBeUndefined()
    expect(r.finish).toBeUndefined()
    expect(r.commands).toEqual([["SET", "k", "v"], ["GET", "k"], ["PING"]])
  })

  it("keeps any byte in bulk strings: CR, LF, CRLF, NUL, 0xff, and empty strings", () => {
    const value = bytes("a\r\nb\rc\nd\r\n\r\n\x00\xff")
    const r = decode([concat(multibulk("SET", bytes("k\r\n"), value), multibulk("ECHO", ""))])
    expect(r.commands).toEqual([["SET", "k\r\n", str(value)], ["ECHO", ""]])
  })

  it("skips empty and negative counts (*0, *-1, *-5) as Redis does", () => {
    const r = decode([bytes("*0\r\n*-1\r\n*-5\r\n"), multibulk("PING")])
    expect(r.commands).toEqual([["PING"]])
  })

  it("gives the same commands at every split point (two chunks and byte by byte)", () => {
    const wire = concat(
      multibulk("SET", bytes("key\r\n"), bytes("\r\n\r\n")),
      bytes("PING\r\n"),
      multibulk("ECHO", ""),
      bytes("*0\r\n"),
      bytes("ECHO \"a\\r\\nb\" 'c d'\r\n"),
      multibulk("GET", "key")
    )
    const expected = [["SET", "key\r\n", "\r\n\r\n"], ["PING"], ["ECHO", ""], ["ECHO", "a\r\nb", "c d"], ["GET", "key"]]
    expect(decode([wire]).commands).toEqual(expected)
    for (const chunks of everySplit(wire)) {
      const r = decode(chunks)
      expect(r.error).toBeUndefined()
      expect(r.finish).toBeUndefined()
      expect(r.commands).toEqual(expected)
    }
  })

  it("hands out zero-copy views for bulk strings inside one chunk and commands pushed by it; copies for the rest", () => {
    const decoder = Resp.makeRequestDecoder()
    const chunk1 = concat(multibulk("SET", "key", "value"), bytes("*2\r\n$4\r\nECHO\r\n$5\r\nsp"))
    const chunk2 = bytes("lit\r\n")
    const out: Array<Resp.Command> = []
    expect(decoder.decode(chunk1, out)).toBeUndefined()
    expect(decoder.buffered).toBe(4 + 2) // "ECHO" decoded, "sp" held
    expect(decoder.decode(chunk2, out)).toBeUndefined()
    expect(decoder.buffered).toBe(0)
    expect(out.map((c) => c.map(str))).toEqual([["SET", "key", "value"], ["ECHO", "split"]])
    for (const arg of out[0]) expect(isViewOf(arg, chunk1)).toBe(true)
    // "ECHO" was decoded from chunk1 but its command completed in chunk2: copied when chunk1 ended
    expect(isViewOf(out[1][0], chunk1)).toBe(false)
    expect(isViewOf(out[1][1], chunk1) || isViewOf(out[1][1], chunk2)).toBe(false)
  })

  it("holds no view of a chunk after decode returns (chunks may be lent and reused)", () => {
    const wire = concat(multibulk("SET", "key", "value"), multibulk("MSET", "a", "1", "b", "2"))
    for (let cut = 1; cut < wire.length; cut++) {
      const decoder = Resp.makeRequestDecoder()
      const out: Array<Resp.Command> = []
      // each chunk lives in a reused buffer, overwritten once decode returns
      const scratch = new Uint8Array(wire.length)
      for (const [start, end] of [[0, cut], [cut, wire.length]] as const) {
        scratch.set(wire.subarray(start, end))
        const chunk = scratch.subarray(0, end - start)
        expect(decoder.decode(chunk, out)).toBeUndefined()
        // the commands pushed by this call may view it; nothing held for later may
        const done = out.map((c) => c.map(str))
        chunk.fill(0x23)
        out.length = 0
        for (const c of done) seen.push(c)
      }
      expect(seen.splice(0)).toEqual([["SET", "key", "value"], ["MSET", "a", "1", "b", "2"]])
    }
  })

  it("commits memory for a spanning bulk string as its bytes arrive", () => {
    const decoder = Resp.makeRequestDecoder()
    const out: Array<Resp.Command> = []
    expect(decoder.decode(bytes("*1\r\n$10000000\r\nabc"), out)).toBeUndefined()
    expect(decoder.buffered).toBe(3)
    expect(decoder.finish(out)).toMatchObject({ _tag: "FramingError", reason: "Truncated", codec: "RESP", buffered: 3 })
  })

  it("reports the end of stream inside a command as Truncated, a clean end as nothing", () => {
    expect(decode([multibulk("PING")]).finish).toBeUndefined()
    expect(decode([bytes("*2\r\n$4\r\nECHO\r\n")]).finish).toMatchObject({ reason: "Truncated", buffered: 4 })
    expect(decode([bytes("*1\r\n$4\r")]).finish).toMatchObject({ reason: "Truncated" })
    expect(decode([bytes("PIN")]).finish).toMatchObject({ reason: "Truncated", buffered: 3 })
  })
})

describe("RequestDecoder: inline commands", () => {
  const cases: ReadonlyArray<readonly [string, Array<Array<string>>]> = [
    ["PING\r\n", [["PING"]]],
    ["PING\n", [["PING"]]],
    ["set  k\t v \r\n", [["set", "k", "v"]]],
    ["\r\n   \r\n\n", []],
    ["ECHO \"a\\x41\\n\"\r\n", [["ECHO", "aA\n"]]],
    ["ECHO a\"b c\"\r\n", [["ECHO", "ab c"]]],
    ["ECHO 'x\\'y'\r\n", [["ECHO", "x'y"]]],
    ["ECHO 'a\\nb'\r\n", [["ECHO", "a\\nb"]]],
    ["ECHO \"\\x4\\q\\t\\b\\a\\r\"\r\n", [["ECHO", "x4q\t\b\x07\r"]]],
    ["ECHO \"\\xZZ\" \"\\xaB\"\r\n", [["ECHO", "xZZ", "\xab"]]],
    ["ECHO \"\" ''\r\n", [["ECHO", "", ""]]],
    ["ECHO\t\x0bx\r\n", [["ECHO", "x"]]],
    ["ECHO a\x0bb\r\n", [["ECHO", "a\x0bb"]]],
    ["ECHO a\rb\r\n", [["ECHO", "a", "b"]]],
    ["ECHO a\r\r\n", [["ECHO", "a"]]],
    ["ECHO a'b c'\r\n", [["ECHO", "ab c"]]],
    ["$3\r\n", [["$3"]]], // any first byte but '*' starts an inline command
    ["\xff\x00 x\r\n", [["\xff\x00", "x"]]]
  ]
  for (const [wire, expected] of cases) {
    it(`splits ${JSON.stringify(wire)}`, () => {
      const r = decode([bytes(wire)])
      expect(r.error).toBeUndefined()
      expect(r.commands).toEqual(expected)
      for (const chunks of everySplit(bytes(wire))) expect(decode(chunks).commands).toEqual(expected)
    })
  }

  it("refuses unbalanced quotes and a closing quote glued to more text", () => {
    for (const wire of ["\"unbal\r\n", "ECHO \"a\"b\r\n", "ECHO 'a'b\r\n", "ECHO 'abc\r\n", "ECHO \"abc\\\r\n"]) {
      expect(protocolError(wire)).toBe("-ERR Protocol error: unbalanced quotes in request\r\n")
    }
  })

  it("hands out views of the chunk for plain arguments of a line inside one chunk", () => {
    const chunk = bytes("SET key value\r\n")
    const out: Array<Resp.Command> = []
    Resp.makeRequestDecoder().decode(chunk, out)
    for (const arg of out[0]) expect(isViewOf(arg, chunk)).toBe(true)
  })

  it("keeps arguments of a line spanning chunks valid after later input", () => {
    const decoder = Resp.makeRequestDecoder()
    const out: Array<Resp.Command> = []
    decoder.decode(bytes("SET ke"), out)
    decoder.decode(bytes("y value\r\nGET xxxxxxxxxx"), out)
    decoder.decode(bytes("yyyyyyyyyyyyyyyyyyyyy\r\n"), out)
    expect(out.map((c) => c.map(str))).toEqual([["SET", "key", "value"], ["GET", "xxxxxxxxxxyyyyyyyyyyyyyyyyyyyyy"]])
  })
})

describe("RequestDecoder: malformed input (Redis's messages)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["*1\r\n$-1\r\n", "invalid bulk length"],
    ["*1\r\n$-2\r\n", "invalid bulk length"],
    ["*1\r\n$abc\r\n", "invalid bulk length"],
    ["*1\r\n$04\r\nPING\r\n", "invalid bulk length"],
    ["*1\r\n$\r\n", "invalid bulk length"],
    ["*1\r\n$+4\r\n", "invalid bulk length"],
    ["*1\r\n$9223372036854775808\r\n", "invalid bulk length"],
    ["*a\r\n", "invalid multibulk length"],
    ["*\r\n", "invalid multibulk length"],
    ["*-\r\n", "invalid multibulk length"],
    ["*-0\r\n", "invalid multibulk length"],
    ["*01\r\n", "invalid multibulk length"],
    ["*+1\r\n", "invalid multibulk length"],
    ["* 1\r\n", "invalid multibulk length"],
    ["*1\n$4\r\nPING\r\n", "invalid multibulk length"],
    ["*-9223372036854775809\r\n", "invalid multibulk length"],
    ["*1\r\nx4\r\n", "expected '$', got 'x'"],
    ["*1\r\n:4\r\n", "expected '$', got ':'"],
    ["*1\r\n\r\n", "expected '$', got ' '"], // the CR, written as a space
    // stricter than Redis (which skips any 2 bytes): the CRLF after a bulk and after a header
    ["*1\r\n$4\r\nPINGxx", "expected CRLF after bulk data, got 'x'"],
    ["*1\r\n$4\r\nPING\rx", "expected CRLF after bulk data, got 'x'"],
    ["*1\rx", "invalid multibulk length"],
    ["*1\r\n$4\rx", "invalid bulk length"]
  ]
  for (const [wire, message] of cases) {
    it(`${JSON.stringify(wire)} → ${message}`, () => {
      expect(protocolError(wire)).toBe(`-ERR Protocol error: ${message}\r\n`)
      for (const chunks of everySplit(bytes(wire))) {
        const r = decode(chunks)
        expect(r.error?.detail?.replace("\r", " ")).toBe(message)
      }
    })
  }

  it("-9223372036854775808 is a valid (ignored) count, as in Redis", () => {
    expect(decode([bytes("*-9223372036854775808\r\nPING\r\n")]).commands).toEqual([["PING"]])
  })

  it("pushes the commands before the bad bytes, then stays failed with the same error", () => {
    const decoder = Resp.makeRequestDecoder()
    const out: Array<Resp.Command> = []
    const error = decoder.decode(concat(multibulk("PING"), bytes("PING\r\n*1\r\nx\r\n"), multibulk("GET", "k")), out)
    expect(error).toBeInstanceOf(Framing.FramingError)
    expect(error).toMatchObject({ reason: "Corrupted", codec: "RESP", detail: "expected '$', got 'x'" })
    expect(out.map((c) => c.map(str))).toEqual([["PING"], ["PING"]])
    expect(decoder.decode(multibulk("PING"), out)).toBe(error)
    expect(decoder.finish(out)).toBe(error)
    expect(out).toHaveLength(2)
  })
})

describe("RequestDecoder: limits", () => {
  it("uses Redis-like safe defaults", () => {
    expect(Resp.DEFAULT_MAX_BULK_LENGTH).toBe(64 * 1024 * 1024)
    expect(Resp.DEFAULT_MAX_ARRAY_LENGTH).toBe(1048576)
    expect(Resp.DEFAULT_MAX_INLINE_LENGTH).toBe(65536)
  })

  it("refuses a declared bulk above the max at its header, before any body byte is buffered", () => {
    for (const header of ["*1\r\n$1073741824\r\n", `*1\r\n$${64 * 1024 * 1024 + 1}\r\n`]) {
      const decoder = Resp.makeRequestDecoder()
      const out: Array<Resp.Command> = []
      const error = decoder.decode(bytes(header), out)
      expect(error).toMatchObject({ reason: "FrameTooLarge", limit: 64 * 1024 * 1024, detail: "invalid bulk length" })
      expect(decoder.buffered).toBe(0)
      expect(encode(Resp.protocolErrorReply(error!))).toBe("-ERR Protocol error: invalid bulk length\r\n")
    }
    // exactly the max: accepted, waiting for the body
    const decoder = Resp.makeRequestDecoder()
    expect(decoder.decode(bytes(`*1\r\n$${64 * 1024 * 1024}\r\n`), [])).toBeUndefined()
  })

  it("applies a configured maxBulkLength: max accepted, max + 1 refused", () => {
    const limits = { maxBulkLength: 10 }
    expect(decode([multibulk("ECHO", "0123456789")], limits).commands).toEqual([["ECHO", "0123456789"]])
    expect(decode([multibulk("ECHO", "0123456789a")], limits).error).toMatchObject({
      reason: "FrameTooLarge",
      limit: 10,
      actual: 11
    })
  })

  it("refuses a count above maxArrayLength at its header (default 1,048,576)", () => {
    expect(decode([bytes("*1048576\r\n")]).error).toBeUndefined()
    expect(decode([bytes("*1048577\r\n")]).error).toMatchObject({
      reason: "FrameTooLarge",
      limit: 1048576,
      actual: 1048577,
      detail: "invalid multibulk length"
    })
    expect(protocolError("*2147483648\r\n")).toBe("-ERR Protocol error: invalid multibulk length\r\n")
    const limits = { maxArrayLength: 2 }
    expect(decode([multibulk("GET", "k")], limits).commands).toEqual([["GET", "k"]])
    expect(decode([multibulk("SET", "k", "v")], limits).error).toMatchObject({ reason: "FrameTooLarge", limit: 2 })
  })

  it("refuses an inline line above maxInlineLength, with or without its newline yet", () => {
    const max = 65536
    const ok = "x".repeat(max)
    expect(decode([bytes(`${ok}\r\n`)]).commands).toEqual([[ok]])
    expect(decode([bytes(`${ok}\n`)]).commands).toEqual([[ok]])
    expect(decode([bytes(ok)]).error).toBeUndefined() // max bytes held: still fine
    expect(decode([bytes(`${ok}\r`)]).error).toBeUndefined() // the \r may be the line end
    expect(protocolError(`${ok}y\r\n`)).toBe("-ERR Protocol error: too big inline request\r\n")
    expect(protocolError(`${ok}y`)).toBe("-ERR Protocol error: too big inline request\r\n")
    expect(protocolError(`${ok}\ry`)).toBe("-ERR Protocol error: too big inline request\r\n")
    // a line spanning chunks: refused before the long tail is copied
    expect(decode([bytes("SET "), bytes(`${ok}\r\n`)]).error?.detail).toBe("too big inline request")
    expect(decode([bytes(ok.slice(4)), bytes("SET \r\n")]).commands).toEqual([[`${ok.slice(4)}SET`]])
    const limits = { maxInlineLength: 4 }
    expect(decode([bytes("PING\r\n")], limits).commands).toEqual([["PING"]])
    for (const chunks of everySplit(bytes("PINGS\r\n"))) {
      expect(decode(chunks, limits).error?.detail).toBe("too big inline request")
    }
  })

  it("refuses header lines above maxInlineLength (Redis's 'too big ... count string')", () => {
    expect(protocolError(`*${"1".repeat(70000)}`)).toBe("-ERR Protocol error: too big mbulk count string\r\n")
    expect(protocolError(`*1\r\n$${"1".repeat(70000)}`)).toBe("-ERR Protocol error: too big bulk count string\r\n")
  })

  it("rejects invalid limits when the decoder is made", () => {
    expect(() => Resp.makeRequestDecoder({ maxBulkLength: -1 })).toThrow(Framing.FramingConfigError)
    expect(() => Resp.makeRequestDecoder({ maxInlineLength: 1.5 })).toThrow(/maxInlineLength/)
  })
})

describe("RequestDecoder: maxCommandBytes (each argument costs its length + ARGUMENT_OVERHEAD)", () => {
  const O = Resp.ARGUMENT_OVERHEAD
  const TOO_BIG = "-ERR Protocol error: too big multibulk request\r\n"

  it("defaults to 128 MiB, or twice maxBulkLength when that is larger; rejects invalid values", () => {
    expect(Resp.DEFAULT_MAX_COMMAND_BYTES).toBe(128 * 1024 * 1024)
    expect(O).toBe(256)
    // a value of the default largest size passes (its body is then awaited)
    expect(decode([bytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${64 * 1024 * 1024}\r\n`)]).error).toBeUndefined()
    // about 522,000 one-byte arguments: the next header is refused
    const most = Math.floor(Resp.DEFAULT_MAX_COMMAND_BYTES / (1 + O))
    const wire = concat(bytes(`*${most + 1}\r\n`), bytes("$1\r\nx\r\n".repeat(most)))
    const decoder = Resp.makeRequestDecoder()
    expect(decoder.decode(wire, [])).toBeUndefined()
    expect(decoder.buffered).toBe(most)
    expect(decoder.decode(bytes("$1\r\n"), [])).toMatchObject({
      reason: "FrameTooLarge",
      detail: "too big multibulk request",
      limit: Resp.DEFAULT_MAX_COMMAND_BYTES,
      actual: (most + 1) * (1 + O)
    })
    // a larger maxBulkLength raises the default with it
    expect(decode([bytes(`*1\r\n$${300 * 1024 * 1024}\r\n`)], { maxBulkLength: 512 * 1024 * 1024 }).error)
      .toBeUndefined()
    expect(() => Resp.makeRequestDecoder({ maxCommandBytes: -1 })).toThrow(/maxCommandBytes/)
    expect(() => Resp.makeRequestDecoder({ maxCommandBytes: 0.5 })).toThrow(Framing.FramingConfigError)
  })

  it("decodes a command just under the limit and refuses one just over, at every split point", () => {
    // SET k <value>: cost 3 × O + 3 + 1 + value length
    const limits = { maxCommandBytes: 3 * O + 4 + 6 }
    const under = concat(multibulk("PING"), multibulk("SET", "k", "123456"), multibulk("PING"))
    const over = concat(multibulk("PING"), multibulk("SET", "k", "1234567"), multibulk("PING"))
    for (const chunks of [[under], ...everySplit(under)]) {
      const r = decode(chunks, limits)
      expect(r.error).toBeUndefined()
      expect(r.commands).toEqual([["PING"], ["SET", "k", "123456"], ["PING"]])
    }
    for (const chunks of [[over], ...everySplit(over)]) {
      const r = decode(chunks, limits)
      expect(r.commands).toEqual([["PING"]])
      expect(r.error).toMatchObject({
        reason: "FrameTooLarge",
        codec: "RESP",
        detail: "too big multibulk request",
        limit: 3 * O + 10,
        actual: 3 * O + 11
      })
      expect(encode(Resp.protocolErrorReply(r.error!))).toBe(TOO_BIG)
    }
  })

  it("trips at the header of the argument over the limit, before any of its bytes is held, whatever the chunking", () => {
    // 1-byte arguments: 10 fit, the 11th header is refused
    const limits = { maxCommandBytes: 10 * (1 + O) }
    const wire = concat(bytes("*100\r\n"), bytes("$1\r\nx\r\n".repeat(100)))
    const trip = 6 + 10 * 7 + 4 // the position just after the 11th header
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 40 }), (cuts) => {
        const decoder = Resp.makeRequestDecoder(limits)
        let at = 0
        let error: Framing.FramingError | undefined
        for (const chunk of cutAt(wire, cuts)) {
          error = decoder.decode(chunk, [])
          at += chunk.length
          if (error !== undefined) break
          // what the incomplete command holds stays within the limit at every chunk boundary:
          // at most 10 arguments, and a part of the next header line ("$1\r")
          expect(decoder.buffered).toBeLessThanOrEqual(10 + 3)
          expect(at).toBeLessThan(trip)
        }
        expect(at).toBeGreaterThanOrEqual(trip)
        expect(error).toMatchObject({ detail: "too big multibulk request", actual: 11 * (1 + O) })
      }),
      { numRuns: 300 }
    )
  })

  it("gives the same outcome for any chunking of commands near the limit (fast and general paths)", () => {
    const arg = fc.uint8Array({ maxLength: 12 })
    const command = fc.array(arg, { minLength: 1, maxLength: 5 }).map((args) => multibulk(...args))
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 6 }).chain((parts) => {
          const wire = concat(...parts)
          return fc.tuple(
            fc.constant(wire),
            fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 12 }),
            fc.integer({ min: 0, max: 5 * (O + 12) })
          )
        }),
        ([wire, cuts, maxCommandBytes]) => {
          const whole = decode([wire], { maxCommandBytes })
          const bytewise = decode(Array.from(wire, (b) => Uint8Array.of(b)), { maxCommandBytes })
          const split = decode(cutAt(wire, cuts), { maxCommandBytes })
          for (const r of [bytewise, split]) {
            expect(r.commands).toEqual(whole.commands)
            expect(r.error?.detail).toEqual(whole.error?.detail)
            expect(r.error?.reason).toEqual(whole.error?.reason)
          }
          // every command pushed is within the limit
          for (const c of whole.commands) {
            expect(c.reduce((n, a) => n + a.length + O, 0)).toBeLessThanOrEqual(maxCommandBytes)
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})

describe("RequestDecoder: arguments of a command spanning chunks share an arena", () => {
  it("copies short arguments into one shared array, never a chunk, and never overwrites them", () => {
    const decoder = Resp.makeRequestDecoder()
    const out: Array<Resp.Command> = []
    const chunk1 = concat(bytes("*5\r\n"), bytes("$3\r\nSET\r\n$1\r\na\r\n$2\r\nbb\r\n"))
    expect(decoder.decode(chunk1, out)).toBeUndefined()
    expect(decoder.decode(bytes("$3\r\nccc\r\n$4\r\ndddd\r\n"), out)).toBeUndefined()
    const [first] = out
    expect(first.map(str)).toEqual(["SET", "a", "bb", "ccc", "dddd"])
    const [name, a, bb] = first
    // the three arguments held when chunk1 ended: copies, views of one shared array
    for (const arg of [name, a, bb]) expect(isViewOf(arg, chunk1)).toBe(false)
    expect(a.buffer).toBe(name.buffer)
    expect(bb.buffer).toBe(name.buffer)
    // many more spanning commands, some with long arguments: the first command's bytes stay
    const long = "L".repeat(3000)
    for (let i = 0; i < 2000; i++) {
      const wire = multibulk("SET", `key${i}`, i % 100 === 0 ? long : `v${i}`)
      decoder.decode(wire.subarray(0, wire.length - 3), out)
      decoder.decode(wire.subarray(wire.length - 3), out)
    }
    expect(out).toHaveLength(2001)
    expect(first.map(str)).toEqual(["SET", "a", "bb", "ccc", "dddd"])
    expect(out[1].map(str)).toEqual(["SET", "key0", long])
    expect(out[2000].map(str)).toEqual(["SET", "key1999", "v1999"])
    for (let i = 0; i < 2000; i++) expect(str(out[i + 1][1])).toBe(`key${i}`)
  })

  it("lets the incomplete command go when the decoder fails", () => {
    const decoder = Resp.makeRequestDecoder({ maxCommandBytes: 3 * (1 + Resp.ARGUMENT_OVERHEAD) })
    expect(decoder.decode(bytes("*5\r\n$1\r\na\r\n$1\r\nb\r\n"), [])).toBeUndefined()
    expect(decoder.buffered).toBe(2)
    expect(decoder.decode(bytes("$1\r\nc\r\n$1\r\n"), [])?.detail).toBe("too big multibulk request")
    expect(decoder.buffered).toBe(0)
  })
})

describe("RequestDecoder: fast path (a whole multi-bulk command inside one chunk)", () => {
  /** Decode `wire` whole (fast path) and byte by byte (never the fast path): same outcome. */
  const sameAsBytewise = (wire: Uint8Array, limits?: Resp.DecoderOptions) => {
    const whole = decode([wire], limits)
    const single = decode(Array.from(wire, (b) => Uint8Array.of(b)), limits)
    expect(whole.commands).toEqual(single.commands)
    expect(whole.error?.detail).toEqual(single.error?.detail)
    expect(whole.error?.reason).toEqual(single.error?.reason)
    expect(whole.finish?.reason).toEqual(single.finish?.reason)
    expect(whole.finish?.buffered).toEqual(single.finish?.buffered)
    return whole
  }

  const long = "v".repeat(1000)
  const commands = concat(
    multibulk("SET", "key:__rand_int__", "xxx"),
    multibulk("GET", "key:__rand_int__"),
    multibulk("ECHO", ""),
    multibulk("SET", bytes("k\r\n"), bytes("\r\n$3\r\n*1\r\n")),
    multibulk("ECHO", long),
    multibulk(...Array.from({ length: 12 }, (_, i) => `a${i}`))
  )
  const expected = [
    ["SET", "key:__rand_int__", "xxx"],
    ["GET", "key:__rand_int__"],
    ["ECHO", ""],
    ["SET", "k\r\n", "\r\n$3\r\n*1\r\n"],
    ["ECHO", long],
    Array.from({ length: 12 }, (_, i) => `a${i}`)
  ]

  it("decodes the same at every split point, with and without small copies", () => {
    for (const copyUpTo of [0, 32, 2000]) {
      expect(decode([commands], { copyUpTo }).commands).toEqual(expected)
      for (const chunks of everySplit(commands)) {
        const r = decode(chunks, { copyUpTo })
        expect(r.error).toBeUndefined()
        expect(r.finish).toBeUndefined()
        expect(r.commands).toEqual(expected)
      }
    }
  })

  it("pushes the whole commands of a chunk and leaves a partial one to the general path", () => {
    const decoder = Resp.makeRequestDecoder()
    const out: Array<Resp.Command> = []
    const partial = multibulk("SET", "key", "value")
    for (let cut = 1; cut < partial.length; cut++) {
      out.length = 0
      const first = concat(multibulk("GET", "a"), multibulk("GET", "b"), partial.subarray(0, cut))
      expect(decoder.decode(first, out)).toBeUndefined()
      expect(out.map((c) => c.map(str))).toEqual([["GET", "a"], ["GET", "b"]])
      expect(decoder.buffered).toBe(decode([partial.subarray(0, cut)]).finish?.buffered ?? 0)
      expect(decoder.decode(concat(partial.subarray(cut), multibulk("PING")), out)).toBeUndefined()
      expect(out.map((c) => c.map(str))).toEqual([["GET", "a"], ["GET", "b"], ["SET", "key", "value"], ["PING"]])
      expect(decoder.buffered).toBe(0)
    }
  })

  it("gives the general path's outcome for unusual headers: zeros, signs, long numbers, bad bytes", () => {
    const cases: ReadonlyArray<readonly [string, Array<Array<string>>, string | undefined]> = [
      ["*1\r\n$4\r\nPING\r\n", [["PING"]], undefined],
      ["*0\r\n*1\r\n$4\r\nPING\r\n", [["PING"]], undefined],
      ["*-1\r\n*1\r\n$4\r\nPING\r\n", [["PING"]], undefined],
      ["*01\r\n$4\r\nPING\r\n", [], "invalid multibulk length"],
      ["*1\r\n$04\r\nPING\r\n", [], "invalid bulk length"],
      ["*1\r\n$00\r\n\r\n", [], "invalid bulk length"],
      ["*1\r\n$0\r\n\r\n", [[""]], undefined],
      ["*1\r\n$-1\r\n", [], "invalid bulk length"],
      ["*1\r\n$+4\r\nPING\r\n", [], "invalid bulk length"],
      ["*1\r\n$4 \r\nPING\r\n", [], "invalid bulk length"],
      ["*1\r\n$4\n\nPING\r\n", [], "invalid bulk length"],
      ["*1\r\n$4\r\nPINGxx", [], "expected CRLF after bulk data, got 'x'"],
      ["*1\r\n$4\r\nPING\rx", [], "expected CRLF after bulk data, got 'x'"],
      ["*1\r\n:4\r\nPING\r\n", [], "expected '$', got ':'"],
      ["*2\r\n$4\r\nECHO\r\n*1\r\n", [], "expected '$', got '*'"],
      ["*1\r\n$0000000004\r\nPING\r\n", [], "invalid bulk length"],
      ["*1\r\n$999999999\r\n", [], "invalid bulk length"], // above the default max bulk
      ["*1\r\n$1000000000\r\n", [], "invalid bulk length"],
      ["*0000000001\r\n$4\r\nPING\r\n", [], "invalid multibulk length"],
      ["*999999999\r\n", [], "invalid multibulk length"],
      ["*1000000000\r\n", [], "invalid multibulk length"],
      ["*3\r\n$1\r\na\r\n$1\r\nb\r\n", [], undefined] // incomplete: Truncated at the end
    ]
    for (const [wire, commands, error] of cases) {
      const r = sameAsBytewise(bytes(wire))
      expect(r.commands).toEqual(commands)
      expect(r.error?.detail).toBe(error)
    }
    expect(decode([bytes("*3\r\n$1\r\na\r\n$1\r\nb\r\n")]).finish).toMatchObject({ reason: "Truncated", buffered: 2 })
  })

  it("gives the general path's errors when a limit is hit inside a whole command", () => {
    const limits = { maxBulkLength: 5, maxArrayLength: 3 }
    expect(sameAsBytewise(multibulk("SET", "k", "12345"), limits).commands).toEqual([["SET", "k", "12345"]])
    expect(sameAsBytewise(multibulk("SET", "k", "123456"), limits).error).toMatchObject({
      reason: "FrameTooLarge",
      detail: "invalid bulk length",
      limit: 5,
      actual: 6
    })
    expect(sameAsBytewise(multibulk("MSET", "k", "1", "j"), limits).error).toMatchObject({
      reason: "FrameTooLarge",
      detail: "invalid multibulk length",
      limit: 3,
      actual: 4
    })
    // header lines longer than maxInlineLength: refused even when the whole command is there
    const r = sameAsBytewise(multibulk("ECHO", "x".repeat(100)), { maxInlineLength: 3 })
    expect(r.error?.detail).toBe("too big bulk count string")
    expect(sameAsBytewise(multibulk("ECHO", "x".repeat(10)), { maxInlineLength: 3 }).commands).toEqual([
      ["ECHO", "x".repeat(10)]
    ])
    for (const maxInlineLength of [9, 10, 11]) {
      const wire = bytes(`*1\r\n$${"9".repeat(9)}\r\n`)
      expect(sameAsBytewise(wire, { maxInlineLength, maxBulkLength: 1e9 }).error?.detail).toBe(
        maxInlineLength < 10 ? "too big bulk count string" : undefined
      )
    }
  })

  it("copies bulk strings up to copyUpTo bytes, views longer ones, on both paths", () => {
    for (const split of [false, true]) {
      const decoder = Resp.makeRequestDecoder({ copyUpTo: 4 })
      const out: Array<Resp.Command> = []
      const chunk = multibulk("SET", "abcd", "abcde")
      if (split) {
        // header by header: the general path reads each bulk string inside its own chunk
        const cuts = [4, 13, 23]
        let prev = 0
        for (const cut of [...cuts, chunk.length]) {
          expect(decoder.decode(chunk.subarray(prev, cut), out)).toBeUndefined()
          prev = cut
        }
      } else {
        expect(decoder.decode(chunk, out)).toBeUndefined()
      }
      expect(out.map((c) => c.map(str))).toEqual([["SET", "abcd", "abcde"]])
      const [name, key, value] = out[0]
      expect(isViewOf(name, chunk)).toBe(false)
      expect(isViewOf(key, chunk)).toBe(false)
      expect(isViewOf(value, chunk)).toBe(true)
    }
    expect(Resp.DEFAULT_COPY_UP_TO).toBe(0) // views by default; the Bun entry point opts in to copies
    expect(() => Resp.makeRequestDecoder({ copyUpTo: -1 })).toThrow(/copyUpTo/)
  })

  it("decodes arbitrary bytes the same whole (fast path) and byte by byte (general path)", () => {
    const fragment = fc.oneof(
      fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 4 }).map((args) => multibulk(...args)),
      fc.constantFrom(
        "*",
        "$",
        "\r\n",
        "*1\r\n",
        "*2\r\n",
        "*0\r\n",
        "*01\r\n",
        "$0\r\n",
        "$00\r\n",
        "$3\r\n",
        "$03\r\n",
        "$-1\r\n",
        "$999999999\r\n",
        "$1000000000\r\n",
        "*999999999\r\n",
        "abc",
        "x\r\n"
      ).map(bytes),
      fc.uint8Array({ maxLength: 4 })
    )
    const limits = fc.record({
      maxBulkLength: fc.integer({ min: 0, max: 12 }),
      maxArrayLength: fc.integer({ min: 0, max: 4 }),
      maxInlineLength: fc.integer({ min: 2, max: 12 }),
      copyUpTo: fc.integer({ min: 0, max: 8 })
    })
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 8 }), fc.option(limits, { nil: undefined }), (parts, options) => {
        sameAsBytewise(concat(...parts), options)
      }),
      { numRuns: 1500 }
    )
  })
})

describe("RequestDecoder: properties", () => {
  const anyBytes = fc.uint8Array({ maxLength: 24 })
  const interesting = fc.uint8Array({ maxLength: 12 }).map((a) => a.map((b) => bytes("\r\n *$\"'\\x0-9a")[b % 14]))
  const arg = fc.oneof(anyBytes, interesting)
  const command = fc.array(arg, { minLength: 1, maxLength: 5 })
  const token = fc.stringMatching(/^[A-Za-z0-9:_-]{1,8}$/)
  const inline = fc.array(token, { minLength: 1, maxLength: 4 })
  const item = fc.oneof(
    command.map((args) => ({ wire: multibulk(...args), args: args.map(str) })),
    inline.map((tokens) => ({ wire: bytes(`${tokens.join(" ")}\r\n`), args: tokens }))
  )
  const offsets = (length: number) => fc.array(fc.integer({ min: 0, max: length }), { maxLength: 12 })

  it("decodes generated commands the same for any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 8 }).chain((items) => {
          const wire = concat(...items.map((i) => i.wire))
          return fc.tuple(fc.constant(items), fc.constant(wire), offsets(wire.length))
        }),
        ([items, wire, cuts]) => {
          const r = decode(cutAt(wire, cuts))
          expect(r.error).toBeUndefined()
          expect(r.finish).toBeUndefined()
          expect(r.commands).toEqual(items.map((i) => i.args))
        }
      ),
      { numRuns: 400 }
    )
  })

  it("gives the same outcome (commands, error, end state) for any chunking of arbitrary bytes", () => {
    // valid pieces mixed with fragments of headers, quotes and garbage; small limits so that
    // every limit is hit too
    const fragment = fc.oneof(
      item.map((i) => i.wire),
      fc.constantFrom(
        "*",
        "$",
        "\r",
        "\n",
        "\r\n",
        "*1\r\n",
        "$3\r\n",
        "*-1\r\n",
        "\"",
        "'",
        "\\",
        "x",
        " ",
        "$-1\r\n",
        "*2\r\n$1\r\n"
      )
        .map(bytes),
      fc.uint8Array({ maxLength: 6 })
    )
    const limits = { maxBulkLength: 20, maxArrayLength: 4, maxInlineLength: 16 }
    fc.assert(
      fc.property(
        fc.array(fragment, { maxLength: 10 }).chain((parts) => {
          const wire = concat(...parts)
          return fc.tuple(fc.constant(wire), offsets(wire.length))
        }),
        ([wire, cuts]) => {
          const whole = decode([wire], limits)
          const split = decode(cutAt(wire, cuts), limits)
          expect(split.commands).toEqual(whole.commands)
          expect(split.error?.detail).toEqual(whole.error?.detail)
          expect(split.error?.reason).toEqual(whole.error?.reason)
          expect(split.finish?.reason).toEqual(whole.finish?.reason)
          expect(split.finish?.buffered).toEqual(whole.finish?.buffered)
        }
      ),
      { numRuns: 1500 }
    )
  })
})
