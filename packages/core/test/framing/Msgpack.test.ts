import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { MessageError } from "../../src/MessageCodec.ts"
import * as Msgpack from "../../src/Msgpack.ts"
import { hex, u8 } from "./helpers.ts"

const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got Left(${String(e.left)})`)
  return e.right
}

describe("Msgpack", () => {
  it("writes plain MessagePack by default", () => {
    const encode = Msgpack.msgpack.encoder()
    expect(hex([right(encode({ a: 1 }))])).toEqual(["81 a1 61 01"])
    expect(hex([right(encode([1, "x"]))])).toEqual(["92 01 a1 78"])
    expect(right(Msgpack.msgpack.decoder()(u8(0x81, 0xa1, 0x61, 0x01)))).toEqual({ a: 1 })
  })

  it("never lets a __proto__ key reach an object's prototype (msgpackr renames it to __proto_)", () => {
    const encode = Msgpack.msgpack.encoder()
    const decoded = right(
      Msgpack.msgpack.decoder()(right(encode(JSON.parse("{\"__proto__\":{\"polluted\":true}}"))))
    ) as object
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect((decoded as { polluted?: boolean }).polluted).toBeUndefined()
    expect(Object.keys(decoded)).toEqual(["__proto_"])
  })

  it("round-trips JSON-like values, earlier results never overwritten", () => {
    // `__proto__` keys are renamed on decode (test above), so they are left out of the generator
    const hasProtoKey = (v: unknown): boolean =>
      typeof v === "object" && v !== null &&
      (Object.prototype.hasOwnProperty.call(v, "__proto__") || Object.values(v).some(hasProtoKey))
    fc.assert(
      fc.property(fc.array(fc.jsonValue().filter((v) => !hasProtoKey(v)), { maxLength: 5 }), (values) => {
        const encode = Msgpack.msgpack.encoder()
        const decode = Msgpack.msgpack.decoder()
        const frames = values.map((v) => right(encode(v)))
        expect(frames.map((f) => right(decode(f)))).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))))
      }),
      { numRuns: 300 }
    )
  })

  it("a bad frame gives an error and the next frame decodes", () => {
    const decode = Msgpack.msgpack.decoder()
    for (const bad of [u8(), u8(0x92, 0x01), u8(0x01, 0x02), u8(0xc1)]) {
      const result = decode(bad)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left).toBeInstanceOf(MessageError)
        expect(result.left).toMatchObject({ reason: "Decode", codec: "msgpack" })
      }
    }
    expect(right(decode(u8(0x92, 0x01, 0x02)))).toEqual([1, 2])
  })

  it("reports encode failures as MessageError", () => {
    const encode = Msgpack.make().encoder()
    for (const value of [2n ** 70n, Symbol("x")]) {
      const result = encode(value)
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left).toMatchObject({ reason: "Encode", codec: "msgpack" })
    }
    // the encoder is still usable
    expect(hex([right(encode(1))])).toEqual(["01"])
  })
})
