import { describe, expect, it } from "@effect/vitest"
import { Either, ParseResult, Schema } from "effect"
import * as fc from "fast-check"
import * as MessageCodec from "../../src/MessageCodec.ts"
import { bytes, concat, cutMod, splitPoints, u8 } from "./helpers.ts"

const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got Left(${String(e.left)})`)
  return e.right
}
const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error(`expected Left, got Right(${JSON.stringify(e.right)})`)
  return e.left
}

describe("MessageCodec.text", () => {
  it("decodes and encodes UTF-8 per frame", () => {
    const codec = MessageCodec.text()
    expect(right(codec.decoder()(u8(0x68, 0xc3, 0xa9)))).toBe("hé")
    expect(Array.from(right(codec.encoder()("hé")))).toEqual([0x68, 0xc3, 0xa9])
  })

  it("fails on invalid UTF-8 (fatal), then decodes the next frame normally", () => {
    const decode = MessageCodec.text().decoder()
    const error = left(decode(u8(0x61, 0xc3)))
    expect(error).toBeInstanceOf(MessageCodec.MessageError)
    expect(error).toMatchObject({ _tag: "MessageError", reason: "Decode", codec: "text" })
    expect(error.message).toContain("text: cannot decode message")
    expect(right(decode(bytes("ok")))).toBe("ok")
  })

  it("replaces invalid UTF-8 with fatal: false and keeps a BOM", () => {
    expect(right(MessageCodec.text({ fatal: false }).decoder()(u8(0x61, 0xff)))).toBe("a\uFFFD")
    expect(right(MessageCodec.text().decoder()(u8(0xef, 0xbb, 0xbf, 0x61)))).toBe("\uFEFFa")
  })
})

describe("MessageCodec.textStream", () => {
  it("never corrupts a character split across frames, at any split point", () => {
    const source = "aé€😀z"
    const data = bytes(source)
    for (let i = 0; i <= data.length; i++) {
      const decode = MessageCodec.textStream().decoder()
      const text = right(decode(data.slice(0, i))) + right(decode(data.slice(i)))
      expect(text).toBe(source)
    }
  })

  it("reassembles random strings under random chunkings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), splitPoints(16), (source, points) => {
        const decode = MessageCodec.textStream({ fatal: true }).decoder()
        let text = ""
        for (const chunk of cutMod(bytes(source), points)) text += right(decode(chunk))
        expect(text).toBe(source)
      }),
      { numRuns: 1000 }
    )
  })

  it("with fatal: true reports invalid bytes and starts afresh", () => {
    const decode = MessageCodec.textStream({ fatal: true }).decoder()
    expect(right(decode(u8(0x61, 0xe2)))).toBe("a")
    expect(left(decode(u8(0x41)))).toMatchObject({ reason: "Decode", codec: "textStream" })
    expect(right(decode(concat(u8(0xe2, 0x82), u8(0xac))))).toBe("€")
  })
})

describe("MessageCodec.json", () => {
  it("a bad message gives an error, the next good one a value", () => {
    const decode = MessageCodec.json.decoder()
    const error = left(decode(bytes("{\"a\":")))
    expect(error).toMatchObject({ reason: "Decode", codec: "json" })
    expect(error.cause).toBeInstanceOf(SyntaxError)
    expect(right(decode(bytes("{\"a\":1}")))).toEqual({ a: 1 })
    expect(left(decode(u8(0x22, 0xff, 0x22)))).toMatchObject({ reason: "Decode" })
    expect(right(decode(bytes("[1,2]")))).toEqual([1, 2])
  })

  it("encodes JSON and refuses what JSON cannot represent", () => {
    const encode = MessageCodec.json.encoder()
    expect(new TextDecoder().decode(right(encode({ a: [1, "é"] })))).toBe("{\"a\":[1,\"é\"]}")
    expect(left(encode(undefined))).toMatchObject({ reason: "Encode", codec: "json" })
    expect(left(encode(1n))).toMatchObject({ reason: "Encode" })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(left(encode(cyclic)).cause).toBeInstanceOf(TypeError)
    expect(right(encode(null))).toEqual(bytes("null"))
  })
})

describe("MessageCodec.schema", () => {
  const Ping = Schema.Struct({ type: Schema.Literal("ping"), id: Schema.Number })
  const codec = MessageCodec.schema(Ping)

  it("decodes valid messages and types each failure per message", () => {
    const decode = codec.decoder()
    expect(right(decode(bytes("{\"type\":\"ping\",\"id\":1}")))).toEqual({ type: "ping", id: 1 })
    const error = left(decode(bytes("{\"type\":\"ping\",\"id\":\"x\"}")))
    expect(error).toMatchObject({ reason: "Decode", codec: "json+schema" })
    expect(ParseResult.isParseError(error.cause)).toBe(true)
    expect(error.detail).toContain("Expected number")
    // a base (JSON) failure passes through with the base codec name
    expect(left(decode(bytes("{")))).toMatchObject({ codec: "json" })
    expect(right(decode(bytes("{\"type\":\"ping\",\"id\":2}")))).toEqual({ type: "ping", id: 2 })
  })

  it("encodes through the schema (transformations applied) and reports encode failures", () => {
    const WithDate = Schema.Struct({ n: Schema.NumberFromString })
    const c = MessageCodec.schema(WithDate)
    const encode = c.encoder()
    expect(new TextDecoder().decode(right(encode({ n: 5 })))).toBe("{\"n\":\"5\"}")
    expect(right(c.decoder()(bytes("{\"n\":\"7\"}")))).toEqual({ n: 7 })
    const bad = left(codec.encoder()({ type: "pong", id: 1 } as never))
    expect(bad).toMatchObject({ reason: "Encode", codec: "json+schema" })
  })

  it("works over another base codec", () => {
    const c = MessageCodec.schema(Schema.NumberFromString, MessageCodec.text())
    expect(c.name).toBe("text+schema")
    expect(right(c.decoder()(bytes("42")))).toBe(42)
    expect(new TextDecoder().decode(right(c.encoder()(42)))).toBe("42")
    expect(left(c.decoder()(bytes("x")))).toMatchObject({ reason: "Decode", codec: "text+schema" })
  })
})
