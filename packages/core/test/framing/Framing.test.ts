import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Exit } from "effect"
import * as Framing from "../../src/Framing.ts"
import * as Lines from "../../src/Lines.ts"
import { bytes, str } from "./helpers.ts"

describe("FramingError", () => {
  it("states the facts in its message", () => {
    expect(new Framing.FramingError({ reason: "FrameTooLarge", codec: "LengthField", limit: 255, actual: 300 }).message)
      .toBe(
        "LengthField: frame too large: 300 bytes, limit 255"
      )
    expect(new Framing.FramingError({ reason: "FrameTooLarge", codec: "X", limit: 1 }).message).toBe(
      "X: frame too large: more than the limit, limit 1"
    )
    expect(
      new Framing.FramingError({ reason: "Truncated", codec: "Varint", buffered: 3, detail: "inside a varint" }).message
    ).toBe(
      "Varint: stream ended inside a frame (3 bytes buffered): inside a varint"
    )
    expect(new Framing.FramingError({ reason: "Corrupted", codec: "Varint", detail: "bad" }).message).toBe(
      "Varint: corrupted input: bad"
    )
  })

  it.effect("is a tagged, yieldable error", () =>
    Effect.gen(function*() {
      const error = new Framing.FramingError({ reason: "Corrupted", codec: "Lines" })
      expect(error).toBeInstanceOf(Error)
      expect(error._tag).toBe("FramingError")
      const exit = yield* Effect.exit(error)
      expect(Exit.isFailure(exit)).toBe(true)
      const caught = yield* Effect.flip(error)
      expect(caught).toBe(error)
    }))
})

describe("FramingConfigError", () => {
  it("names the codec and option", () => {
    const error = new Framing.FramingConfigError({ codec: "Lines", option: "maxLength", detail: "expected an integer" })
    expect(error.message).toBe("Lines: invalid option \"maxLength\": expected an integer")
    expect(error._tag).toBe("FramingConfigError")
  })
})

describe("decodeAll / encodeAll", () => {
  it("round-trip through one buffer", () => {
    const framing = Lines.make()
    const wire = Framing.encodeAll(framing, [bytes("a"), bytes("b")])
    expect(Either.isRight(wire)).toBe(true)
    if (Either.isRight(wire)) {
      expect(str(wire.right)).toBe("a\r\nb\r\n")
      const frames = Framing.decodeAll(framing, [wire.right.subarray(0, 2), wire.right.subarray(2)])
      expect(Either.map(frames, (fs) => fs.map(str))).toEqual(Either.right(["a", "b"]))
    }
  })

  it("return the first error", () => {
    const framing = Lines.make({ maxLength: 1 })
    expect(
      Either.getLeft(Framing.encodeAll(framing, [bytes("a"), bytes("bc")])).pipe((o) =>
        o._tag === "Some" && o.value.reason
      )
    ).toBe(
      "FrameTooLarge"
    )
    const truncated = Framing.decodeAll(framing, [bytes("a\nb")])
    expect(Either.isLeft(truncated) && truncated.left.reason).toBe("Truncated")
    const tooLarge = Framing.decodeAll(framing, [bytes("abc\n")])
    expect(Either.isLeft(tooLarge) && tooLarge.left.reason).toBe("FrameTooLarge")
  })
})
