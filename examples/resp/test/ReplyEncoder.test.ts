import { describe, expect, it } from "@effect/vitest"
import { ByteBuffer } from "@wirekit/core"
import * as fc from "fast-check"
import * as Resp from "../src/Resp.ts"
import { bytes, encode, str } from "./helpers.ts"

const b = Resp.bulkText

describe("ReplyEncoder: RESP2 and RESP3", () => {
  const rows: ReadonlyArray<readonly [string, Resp.Reply, string, string]> = [
    ["simple", Resp.OK, "+OK\r\n", "+OK\r\n"],
    ["simple text", Resp.simple("string"), "+string\r\n", "+string\r\n"],
    ["error", Resp.err("syntax error"), "-ERR syntax error\r\n", "-ERR syntax error\r\n"],
    ["wrongtype", Resp.error("WRONGTYPE Operation"), "-WRONGTYPE Operation\r\n", "-WRONGTYPE Operation\r\n"],
    ["integer 0", Resp.integer(0), ":0\r\n", ":0\r\n"],
    ["integer", Resp.integer(1234567), ":1234567\r\n", ":1234567\r\n"],
    ["negative", Resp.integer(-2), ":-2\r\n", ":-2\r\n"],
    ["safe max", Resp.integer(Number.MAX_SAFE_INTEGER), ":9007199254740991\r\n", ":9007199254740991\r\n"],
    ["bigint", Resp.integer(-9223372036854775808n), ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"],
    ["bulk", b("abc"), "$3\r\nabc\r\n", "$3\r\nabc\r\n"],
    ["empty bulk", b(""), "$0\r\n\r\n", "$0\r\n\r\n"],
    ["binary bulk", Resp.bulk(bytes("a\r\n\x00\xff")), "$5\r\na\r\n\x00\xff\r\n", "$5\r\na\r\n\x00\xff\r\n"],
    ["null bulk", Resp.nullBulk, "$-1\r\n", "_\r\n"],
    ["null array", Resp.nullArray, "*-1\r\n", "_\r\n"],
    ["empty array", Resp.emptyArray, "*0\r\n", "*0\r\n"],
    [
      "nested array",
      Resp.array([Resp.integer(1), Resp.array([b("x"), Resp.nullBulk])]),
      "*2\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n",
      "*2\r\n:1\r\n*2\r\n$1\r\nx\r\n_\r\n"
    ],
    [
      "map",
      Resp.map([[b("a"), Resp.integer(1)], [b("b"), b("x")]]),
      "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\nx\r\n",
      "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$1\r\nx\r\n"
    ],
    ["empty map", Resp.map([]), "*0\r\n", "%0\r\n"],
    ["set", Resp.set([b("m")]), "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n"],
    ["null", Resp.nil, "$-1\r\n", "_\r\n"],
    ["double", Resp.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
    ["double int", Resp.double(3), "$1\r\n3\r\n", ",3\r\n"],
    ["double inf", Resp.double(Infinity), "$3\r\ninf\r\n", ",inf\r\n"],
    ["double -inf", Resp.double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
    ["double nan", Resp.double(NaN), "$3\r\nnan\r\n", ",nan\r\n"],
    ["true", Resp.boolean(true), ":1\r\n", "#t\r\n"],
    ["false", Resp.boolean(false), ":0\r\n", "#f\r\n"],
    [
      "push",
      Resp.push([b("message"), b("ch")]),
      "*2\r\n$7\r\nmessage\r\n$2\r\nch\r\n",
      ">2\r\n$7\r\nmessage\r\n$2\r\nch\r\n"
    ],
    ["verbatim", Resp.verbatim("txt", "a\r\nb"), "$4\r\na\r\nb\r\n", "=8\r\ntxt:a\r\nb\r\n"]
  ]
  for (const [name, reply, resp2, resp3] of rows) {
    it(name, () => {
      expect(encode(reply, 2)).toBe(resp2)
      expect(encode(reply, 3)).toBe(resp3)
    })
  }

  it("writes CR and LF inside simple strings and errors as spaces (one line)", () => {
    expect(encode(Resp.err("unknown command 'a\r\nb'"))).toBe("-ERR unknown command 'a  b'\r\n")
    expect(encode(Resp.simple("x\ny"))).toBe("+x y\r\n")
  })

  it("writes error and simple texts one byte per char (binary-safe quoting of client bytes)", () => {
    expect(encode(Resp.err("'\xff\x01'"))).toBe("-ERR '\xff\x01'\r\n")
  })

  it("writes the digits of integers exactly around the 32-bit boundary and every power of ten", () => {
    const values = [9, 10, 11, 99, 100, 2147483646, 2147483647, 2147483648, 4294967296, 1e15, 2 ** 53 - 1]
    for (let p = 1; p <= 1e15; p *= 10) values.push(p - 1, p, p + 1)
    for (const v of values) {
      expect(encode(Resp.integer(v))).toBe(`:${v}\r\n`)
      expect(encode(Resp.integer(-v))).toBe(`:${-v}\r\n`)
      expect(encode(Resp.bulk(new Uint8Array(v < 3000 ? v : 0)))).toMatch(new RegExp(`^\\$${v < 3000 ? v : 0}\r\n`))
    }
  })

  it("rejects a verbatim format that is not 3 characters", () => {
    expect(() => Resp.verbatim("text", "x")).toThrow(RangeError)
  })
})

describe("ReplyEncoder: many replies into one buffer", () => {
  it("appends replies one after another, large bulk strings included", () => {
    const big = new Uint8Array(100_000).fill(97)
    const buf = ByteBuffer.make()
    Resp.encodeReplies([Resp.OK, Resp.bulk(big), Resp.integer(5), Resp.array([Resp.bulk(big), Resp.nullBulk])], buf, 2)
    const expected = `+OK\r\n$100000\r\n${"a".repeat(100_000)}\r\n:5\r\n*2\r\n$100000\r\n${
      "a".repeat(100_000)
    }\r\n$-1\r\n`
    expect(str(buf.take())).toBe(expected)
  })

  it("handles long arrays, simple strings and errors longer than the scratch space", () => {
    const items = Array.from({ length: 5000 }, (_, i) => Resp.bulkText(`item:${i}`))
    const text = encode(Resp.array(items))
    expect(text.startsWith("*5000\r\n$6\r\nitem:0\r\n")).toBe(true)
    expect(text.endsWith("$9\r\nitem:4999\r\n")).toBe(true)
    const long = "e".repeat(40_000)
    expect(encode(Resp.err(long))).toBe(`-ERR ${long}\r\n`)
  })

  it("replyWriter: many replies, one flush; interleaved writers keep their own bytes", () => {
    const a = ByteBuffer.make()
    const c = ByteBuffer.make()
    const wa = Resp.replyWriter(a)
    const wc = Resp.replyWriter(c)
    wa.write(Resp.OK, 2)
    wa.write(b("abc"), 2)
    wc.write(Resp.nullBulk, 3) // takes the scratch area over: a's pending bytes are flushed to a
    wa.write(Resp.integer(42), 2)
    Resp.encodeReply(Resp.PONG, c, 2)
    wa.write(Resp.bulk(new Uint8Array(5000).fill(120)), 2) // large bulk: straight to the buffer
    wa.end()
    wc.end()
    expect(str(a.take())).toBe("+OK\r\n$3\r\nabc\r\n:42\r\n$5000\r\n" + "x".repeat(5000) + "\r\n")
    expect(str(c.take())).toBe("_\r\n+PONG\r\n")
    wa.end() // nothing pending: no effect
    expect(a.length).toBe(0)
  })

  it("stays usable after a reply throws midway (the scratch state is reset)", () => {
    const bad = {
      _tag: "Integer",
      value: {
        toString: () => {
          throw new Error("boom")
        }
      }
    } as unknown as Resp.Reply
    const buf = ByteBuffer.make()
    expect(() => Resp.encodeReply(Resp.array([Resp.OK, bad]), buf, 2)).toThrow("boom")
    buf.clear()
    Resp.encodeReply(Resp.PONG, buf, 2)
    expect(str(buf.take())).toBe("+PONG\r\n")
  })
})

/** A minimal RESP reader for round trips (independent of the encoder). */
const read = (text: string, at = 0): [unknown, number] => {
  const type = text[at]
  const end = text.indexOf("\r\n", at)
  const line = text.slice(at + 1, end)
  let next = end + 2
  switch (type) {
    case "+":
      return [{ simple: line }, next]
    case "-":
      return [{ error: line }, next]
    case ":":
      return [BigInt(line), next]
    case "_":
      return [null, next]
    case "#":
      return [line === "t", next]
    case ",":
      return [{ double: line }, next]
    case "$":
    case "=": {
      const n = Number(line)
      if (n < 0) return [null, next]
      return [text.slice(next, next + n), next + n + 2]
    }
    default: {
      const n = Number(line)
      if (n < 0) return [null, next]
      const items: Array<unknown> = []
      for (let i = 0; i < (type === "%" ? 2 * n : n); i++) {
        const [item, after] = read(text, next)
        items.push(item)
        next = after
      }
      return [{ [type]: items }, next]
    }
  }
}

describe("ReplyEncoder: properties", () => {
  const leaf = fc.oneof(
    fc.stringMatching(/^[ -~]{0,10}$/).map(Resp.simple),
    fc.stringMatching(/^[ -~]{0,10}$/).map((t) => Resp.err(t)),
    fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map((v) => Resp.integer(v)),
    fc.uint8Array({ maxLength: 20 }).map(Resp.bulk),
    fc.constantFrom(Resp.nullBulk, Resp.nullArray, Resp.nil, Resp.boolean(true), Resp.boolean(false)),
    fc.double().map(Resp.double)
  )
  const { reply } = fc.letrec<{ reply: Resp.Reply }>((tie) => ({
    reply: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("reply"), { maxLength: 4 }).map(Resp.array),
      fc.array(fc.tuple(tie("reply"), tie("reply")), { maxLength: 3 }).map((e) => Resp.map(e)),
      fc.array(tie("reply"), { maxLength: 4 }).map(Resp.set),
      fc.array(tie("reply"), { maxLength: 4 }).map(Resp.push)
    )
  }))

  /** What a reply should read back as, per protocol. */
  const expected = (r: Resp.Reply, p: Resp.Protocol): unknown => {
    switch (r._tag) {
      case "Simple":
        return { simple: r.value }
      case "Error":
        return { error: r.message }
      case "Integer":
        return BigInt(r.value)
      case "Bulk":
        return r.value === null ? null : str(r.value)
      case "Array":
        return r.value === null ? null : { "*": r.value.map((x) => expected(x, p)) }
      case "Map":
        return { [p === 3 ? "%" : "*"]: r.entries.flatMap(([k, v]) => [expected(k, p), expected(v, p)]) }
      case "Set":
        return { [p === 3 ? "~" : "*"]: r.value.map((x) => expected(x, p)) }
      case "Push":
        return { [p === 3 ? ">" : "*"]: r.value.map((x) => expected(x, p)) }
      case "Null":
        return null
      case "Double":
        return p === 3 ? { double: Resp.formatDouble(r.value) } : Resp.formatDouble(r.value)
      case "Boolean":
        return p === 3 ? r.value : BigInt(r.value ? 1 : 0)
      case "Verbatim":
        return p === 3 ? `txt:${str(r.value)}` : str(r.value)
    }
  }

  it("reads back what was encoded, in both protocols, many replies in one buffer", () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.constantFrom<Resp.Protocol>(2, 3),
        (replies, p) => {
          const buf = ByteBuffer.make(16)
          Resp.encodeReplies(replies, buf, p)
          const text = str(buf.take())
          let at = 0
          for (const r of replies) {
            const [value, next] = read(text, at)
            expect(value).toEqual(expected(r, p))
            at = next
          }
          expect(at).toBe(text.length)
        }
      ),
      { numRuns: 500 }
    )
  })
})
