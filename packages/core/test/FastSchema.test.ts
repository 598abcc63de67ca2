/**
 * Differential tests of the compiled Schema validators
 * (src/internal/fastSchema.ts): for random schemas of the supported subset
 * and random inputs (fitting, nearly fitting, arbitrary), the compiled
 * decode and encode give Schema's own results, down to key order.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import * as FastSchema from "../src/internal/fastSchema.ts"

type Any = Schema.Schema<any, any, never>
type Result = Either.Either<unknown, { readonly message: string }>

/** Key order and container kinds at every level (values are compared by `toStrictEqual`). */
const shape = (u: unknown): unknown =>
  Array.isArray(u)
    ? u.map(shape)
    : typeof u === "object" && u !== null
    ? Object.keys(u).map((k) => [k, shape((u as Record<string, unknown>)[k])])
    : typeof u

const expectSame = (fast: Result, slow: Result, input: unknown) => {
  expect(Either.isEither(fast)).toBe(true)
  expect(fast._tag).toBe(slow._tag)
  if (Either.isRight(fast) && Either.isRight(slow)) {
    expect(fast.right).toStrictEqual(slow.right)
    expect(shape(fast.right)).toStrictEqual(shape(slow.right))
    expect(fast.right === input).toBe(slow.right === input)
  } else if (Either.isLeft(fast) && Either.isLeft(slow)) {
    expect(fast.left.message).toBe(slow.left.message)
  }
}

/** Schema throws on some inputs (a tag value with no `toString`): then the compiled path must throw the same. */
const run = (f: (u: unknown) => Result, input: unknown): Result | { readonly thrown: string } => {
  try {
    return f(input)
  } catch (error) {
    return { thrown: String(error) }
  }
}

const compare = (fast: ReturnType<typeof run>, slow: ReturnType<typeof run>, input: unknown) => {
  if ("thrown" in slow || "thrown" in fast) expect(fast).toStrictEqual(slow)
  else expectSame(fast, slow, input)
}

/** Runs `input` through both directions, compiled and Schema's; Schema's decoding outcome. */
const check = (schema: Any, input: unknown): "Right" | "Left" | "thrown" => {
  const slow = run(Schema.decodeUnknownEither(schema), input)
  compare(run(FastSchema.decodeUnknownEither(schema), input), slow, input)
  compare(run(FastSchema.encodeEither(schema), input), run(Schema.encodeEither(schema), input), input)
  return "thrown" in slow ? "thrown" : slow._tag
}

// ---------------------------------------------------------------------------
// random schemas of the supported subset, with inputs that fit them and
// inputs that nearly do
// ---------------------------------------------------------------------------

interface Spec {
  readonly schema: Any
  readonly valid: fc.Arbitrary<unknown>
  readonly near: fc.Arbitrary<unknown>
}

/** Small pools, so that literals collide under `String` (1 and "1", true and "true") and keys repeat. */
const literals = ["A", "B", "1", 1, 0, true, "true", null, "null", ""] as const
const keys = ["a", "b", "_tag", "kind", "0", "1"] as const
const tags = ["A", "B", "C"] as const

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, undefined, [], {}, ...literals),
  fc.string(),
  fc.double(),
  fc.anything()
)
const nearly = (valid: fc.Arbitrary<unknown>, ...others: Array<fc.Arbitrary<unknown>>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, ...others.map((arbitrary) => ({ weight: 1, arbitrary })), {
    weight: 1,
    arbitrary: junk
  })
const leaf = (schema: Any, valid: fc.Arbitrary<unknown>): Spec => ({ schema, valid, near: nearly(valid) })

const leaves: fc.Arbitrary<Spec> = fc.oneof(
  fc.constant(leaf(Schema.String, fc.string())),
  fc.constant(leaf(Schema.Number, fc.oneof(fc.double(), fc.constantFrom(-0, NaN, Infinity)))),
  fc.constant(leaf(Schema.Boolean, fc.boolean())),
  fc.constant(leaf(Schema.Undefined, fc.constant(undefined))),
  fc.constant(leaf(Schema.Unknown, fc.anything())),
  fc.constantFrom(...literals).map((l) => leaf(Schema.Literal(l), fc.constant(l))),
  fc.uniqueArray(fc.constantFrom(...literals), { minLength: 1, maxLength: 4 }).map((ls) =>
    leaf(Schema.Literal(...ls), fc.constantFrom(...ls))
  )
)

type Mode = "required" | "optional" | "exact"
type Field = readonly [string, Mode, Spec]

const fieldsOf = (child: fc.Arbitrary<Spec>, names: ReadonlyArray<string>) =>
  fc.uniqueArray(fc.tuple(fc.constantFrom(...names), fc.constantFrom<Mode>("required", "optional", "exact"), child), {
    maxLength: 4,
    selector: (f) => f[0]
  })

const structOf = (fields: ReadonlyArray<Field>, tag?: string): Spec => {
  const schemaFields: Record<string, Schema.Schema.All | Schema.PropertySignature.All> = {}
  const valid: Record<string, fc.Arbitrary<unknown>> = {}
  const near: Record<string, fc.Arbitrary<unknown>> = {}
  const required: Array<string> = []
  if (tag !== undefined) {
    valid._tag = fc.constant(tag)
    near._tag = nearly(fc.constant(tag), fc.constantFrom(...tags))
    required.push("_tag")
  }
  for (const [name, mode, spec] of fields) {
    schemaFields[name] = mode === "required"
      ? spec.schema
      : mode === "optional"
      ? Schema.optional(spec.schema)
      : Schema.optionalWith(spec.schema, { exact: true })
    valid[name] = mode === "optional" ? fc.option(spec.valid, { nil: undefined }) : spec.valid
    near[name] = spec.near
    if (mode === "required") required.push(name)
  }
  const schema = (tag === undefined
    ? Schema.Struct(schemaFields as Schema.Struct.Fields)
    : Schema.TaggedStruct(tag, schemaFields as Schema.Struct.Fields)) as unknown as Any
  const validRecord = fc.record(valid, { requiredKeys: required })
  const extras = fc.dictionary(fc.constantFrom("a", "b", "_tag", "x", "y", "0"), fc.anything(), { maxKeys: 2 })
  return {
    schema,
    valid: validRecord,
    near: nearly(
      fc.tuple(fc.record(near, { requiredKeys: required }), extras, fc.boolean()).map(([o, x, first]) =>
        first ? { ...x, ...o } : { ...o, ...x }
      ),
      fc.record(near, { requiredKeys: [] }),
      fc.array(validRecord, { maxLength: 2 })
    )
  }
}

const tupleOf = (required: ReadonlyArray<Spec>, optional: ReadonlyArray<Spec>, rest: Spec | null): Spec => {
  const elements = [...required.map((s) => s.schema), ...optional.map((s) => Schema.optionalElement(s.schema))]
  const schema = (rest === null ? Schema.Tuple(...elements) : Schema.Tuple(elements, rest.schema)) as unknown as Any
  const build = (pick: (s: Spec) => fc.Arbitrary<unknown>) =>
    fc.tuple(
      fc.tuple(...required.map(pick)),
      fc.tuple(...optional.map(pick)),
      fc.nat(optional.length),
      rest === null ? fc.constant([]) : fc.array(pick(rest), { maxLength: 3 })
    ).map(([req, opt, k, more]) => [...req, ...opt.slice(0, k), ...(k === optional.length ? more : [])])
  const valid = build((s) => s.valid)
  return { schema, valid, near: nearly(build((s) => s.near), fc.array(junk, { maxLength: 4 })) }
}

const specs: fc.Arbitrary<Spec> = fc.letrec<{ spec: Spec }>((tie) => {
  const child = tie("spec")
  return {
    spec: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaves,
      fieldsOf(child, keys).map((fields) => structOf(fields)),
      fc.tuple(fc.constantFrom(...tags), fieldsOf(child, ["a", "b", "0"])).map(([tag, fields]) =>
        structOf(fields, tag)
      ),
      fc.array(fc.tuple(fc.constantFrom(...tags), fieldsOf(child, ["a", "b"])), { minLength: 2, maxLength: 4 }).map(
        (members) => {
          const ss = members.map(([tag, fields]) => structOf(fields, tag))
          return {
            schema: Schema.Union(...ss.map((s) => s.schema)) as Any,
            valid: fc.oneof(...ss.map((s) => s.valid)),
            near: fc.oneof(...ss.map((s) => s.near))
          }
        }
      ),
      child.map((s): Spec => ({
        schema: Schema.Array(s.schema) as unknown as Any,
        valid: fc.array(s.valid, { maxLength: 4 }),
        near: nearly(fc.array(s.near, { maxLength: 4 }), fc.dictionary(fc.string(), s.valid, { maxKeys: 2 }))
      })),
      child.map((s): Spec => ({
        schema: Schema.NullOr(s.schema),
        valid: fc.oneof(fc.constant(null), s.valid),
        near: fc.oneof(fc.constant(null), s.near)
      })),
      fc.array(child, { minLength: 2, maxLength: 4 }).map((ss): Spec => ({
        schema: Schema.Union(...ss.map((s) => s.schema)),
        valid: fc.oneof(...ss.map((s) => s.valid)),
        near: fc.oneof(...ss.map((s) => s.near))
      })),
      fc.tuple(fc.array(child, { maxLength: 2 }), fc.array(child, { maxLength: 2 }), fc.option(child, { nil: null }))
        .map(
          ([required, optional, rest]) => tupleOf(required, optional, rest)
        )
    )
  }
}).spec

const withInputs = specs.chain((spec) =>
  fc.tuple(
    fc.constant(spec),
    fc.array(
      fc.oneof(
        { weight: 3, arbitrary: spec.valid },
        { weight: 3, arbitrary: spec.near },
        fc.anything(),
        fc.jsonValue()
      ),
      {
        minLength: 1,
        maxLength: 8
      }
    )
  )
)

describe("FastSchema", () => {
  it("gives Schema's results for random schemas and inputs, both directions", () => {
    let inputs = 0
    let decoded = 0
    fc.assert(
      fc.property(withInputs, ([spec, inputs_]) => {
        expect(FastSchema.isCompiled(spec.schema)).toBe(true)
        for (const input of inputs_) {
          inputs++
          if (check(spec.schema, input) === "Right") decoded++
        }
      }),
      { numRuns: 1500 }
    )
    // Both outcomes are exercised in earnest.
    expect(decoded).toBeGreaterThan(inputs / 5)
    expect(decoded).toBeLessThan(inputs * 0.9)
  })

  it("fitting inputs always take the compiled path", () => {
    fc.assert(
      fc.property(specs.chain((spec) => fc.tuple(fc.constant(spec), spec.valid)), ([spec, input]) => {
        // Schema throws when a tag key (even one of a member filed under a
        // later tag) holds an object without `toString`; otherwise it decodes.
        expect(check(spec.schema, input)).not.toBe("Left")
      }),
      { numRuns: 1000 }
    )
  })

  describe("compiles", () => {
    const Get = Schema.TaggedStruct("Get", { key: Schema.String })
    const Put = Schema.TaggedStruct("Put", { key: Schema.String, value: Schema.String })
    const Request = Schema.Union(Get, Put)

    it("the kv schemas", () => {
      expect(FastSchema.isCompiled(Request)).toBe(true)
      expect(FastSchema.isCompiled(Schema.NullOr(Schema.String))).toBe(true)
      for (
        const input of [
          { _tag: "Get", key: "k" },
          { _tag: "Put", key: "k", value: "v", extra: 1 },
          { _tag: "Put", key: "k" },
          null,
          "x"
        ]
      ) {
        check(Request, input)
      }
      expect(FastSchema.decodeUnknownEither(Request)({ _tag: "Put", key: "k", value: "v", extra: 1 })).toStrictEqual(
        Either.right({ _tag: "Put", key: "k", value: "v" })
      )
    })

    it("a TaggedStruct's _tag as a plain literal property", () => {
      const ps =
        (Get.ast as unknown as { propertySignatures: ReadonlyArray<{ type: { _tag: string }; isOptional: boolean }> })
          .propertySignatures[0]
      expect(ps.type._tag).toBe("Literal")
      expect(ps.isOptional).toBe(false)
      check(Get, { key: "k" })
      check(Get, { _tag: "Put", key: "k" })
    })
  })

  describe("Schema's corners", () => {
    const S = Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.Number) })

    it("which inputs are objects", () => {
      class Point {
        a = "x"
      }
      const nullProto = Object.assign(Object.create(null) as object, { a: "x" })
      for (const input of [[], ["x"], () => {}, new Point(), nullProto, new Date(), null, undefined, "a", 1]) {
        check(S, input)
      }
      expect(FastSchema.decodeUnknownEither(S)(new Point())).toStrictEqual(Either.right({ a: "x" }))
      // Arrays and functions are not.
      expect(Either.isLeft(FastSchema.decodeUnknownEither(S)(Object.assign(["x"], { a: "x" })))).toBe(true)
      expect(Either.isLeft(FastSchema.decodeUnknownEither(S)(Object.assign(() => {}, { a: "x" })))).toBe(true)
    })

    it("Struct({}) checks only for null/undefined and returns the input itself", () => {
      const E = Schema.Struct({})
      const date = new Date()
      for (const input of [date, "x", 0, [], null, undefined]) check(E, input)
      expect(FastSchema.decodeUnknownEither(E)(date)).toStrictEqual(Either.right(date))
      expect(Either.getOrThrow(FastSchema.decodeUnknownEither(E)(date))).toBe(date)
    })

    it("excess keys dropped, keys in the schema's order (index-like keys first)", () => {
      const T = Schema.Struct({ b: Schema.String, 1: Schema.String, a: Schema.String })
      const input = { x: 0, a: "a", 1: "1", b: "b" }
      check(T, input)
      expect(Object.keys(Either.getOrThrow(FastSchema.decodeUnknownEither(T)(input)))).toStrictEqual(["1", "b", "a"])
    })

    it("optional keys: absent stays absent, present undefined stays present; exact optional rejects undefined", () => {
      const O = Schema.Struct({
        a: Schema.optional(Schema.String),
        b: Schema.optionalWith(Schema.String, { exact: true })
      })
      for (const input of [{}, { a: undefined }, { b: undefined }, { a: "x", b: "y" }]) check(O, input)
      const r = Either.getOrThrow(FastSchema.decodeUnknownEither(O)({ a: undefined }))
      expect(Object.keys(r)).toStrictEqual(["a"])
      expect(Either.isLeft(FastSchema.decodeUnknownEither(O)({ b: undefined }))).toBe(true)
    })

    it("a missing required key whose type takes undefined comes out present", () => {
      const U = Schema.Struct({ a: Schema.UndefinedOr(Schema.String), u: Schema.Unknown })
      check(U, {})
      expect(Object.keys(Either.getOrThrow(FastSchema.decodeUnknownEither(U)({})))).toStrictEqual(["a", "u"])
    })

    it("required keys are read through the prototype, optional ones only when own", () => {
      const P = Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.String), toString: Schema.Unknown })
      const input = Object.create({ a: "inherited", b: "inherited" }) as object
      check(P, input)
      expect(Either.getOrThrow(FastSchema.decodeUnknownEither(P)(input))).toStrictEqual({
        a: "inherited",
        toString: Object.prototype.toString
      })
    })

    it("numbers: NaN, Infinity and -0 are numbers, kept as they are", () => {
      for (const n of [NaN, Infinity, -Infinity, -0]) {
        check(Schema.Number, n)
        check(Schema.Struct({ n: Schema.Number }), { n })
      }
      expect(Object.is(Either.getOrThrow(FastSchema.decodeUnknownEither(Schema.Literal(0))(-0)), -0)).toBe(true)
    })

    it("arrays and objects are copied, unknown values are passed by reference", () => {
      const A = Schema.Struct({ xs: Schema.Array(Schema.Unknown), u: Schema.Unknown })
      const inner = { deep: [1] }
      const input = { xs: [inner, undefined], u: inner }
      check(A, input)
      const out = Either.getOrThrow(FastSchema.decodeUnknownEither(A)(input))
      expect(out.xs).not.toBe(input.xs)
      expect(out.xs[0]).toBe(inner)
      expect(out.u).toBe(inner)
      // Holes read as undefined and come out dense.
      // eslint-disable-next-line no-sparse-arrays -- holes are the input under test
      check(Schema.Array(Schema.Undefined), [, undefined])
      // eslint-disable-next-line no-sparse-arrays -- holes are the input under test
      expect(1 in Either.getOrThrow(FastSchema.decodeUnknownEither(Schema.Array(Schema.Unknown))([, 1]))).toBe(true)
    })

    it("tuples: required and optional elements, rest, excess", () => {
      const T = Schema.Tuple([Schema.String, Schema.optionalElement(Schema.Number)], Schema.Boolean)
      const F = Schema.Tuple(Schema.String, Schema.optionalElement(Schema.Number))
      for (const input of [[], ["a"], ["a", 1], ["a", 1, true, false], ["a", undefined], ["a", 1, 2], { 0: "a" }]) {
        check(T, input)
        check(F, input)
      }
    })

    it("unions try tagged members first, whatever their position", () => {
      const U = Schema.Union(Schema.Struct({ a: Schema.String }), Schema.TaggedStruct("A", { a: Schema.String }))
      check(U, { _tag: "A", a: "x" })
      expect(Either.getOrThrow(FastSchema.decodeUnknownEither(U)({ _tag: "A", a: "x" }))).toStrictEqual({
        _tag: "A",
        a: "x"
      })
      check(U, { _tag: "B", a: "x" })
      // A tag found only on the prototype does not count.
      const inherited = Object.assign(Object.create({ _tag: "A" }) as object, { a: "x" })
      check(U, inherited)
      expect(Either.getOrThrow(FastSchema.decodeUnknownEither(U)(inherited))).toStrictEqual({ a: "x" })
    })

    it("unions: members sharing a tag are tried in order; tags match by String(value)", () => {
      const D = Schema.Union(
        Schema.TaggedStruct("A", { x: Schema.String }),
        Schema.TaggedStruct("A", { x: Schema.String, y: Schema.Number })
      )
      check(D, { _tag: "A", x: "x", y: 1 })
      expect(Either.getOrThrow(FastSchema.decodeUnknownEither(D)({ _tag: "A", x: "x", y: 1 }))).toStrictEqual({
        _tag: "A",
        x: "x"
      })
      const N = Schema.Union(
        Schema.Struct({ k: Schema.Literal(1), v: Schema.String }),
        Schema.Struct({ k: Schema.Literal("1"), v: Schema.Number }),
        Schema.Struct({ k: Schema.Literal(0), v: Schema.Boolean }),
        Schema.Struct({ k: Schema.Literal(null), v: Schema.Null }),
        Schema.Struct({ k: Schema.Literal("true"), t: Schema.Literal(true), v: Schema.Unknown })
      )
      for (const k of [1, "1", 0, -0, "0", null, "null", true, "true", undefined, NaN, 1n]) {
        for (const v of ["s", 2, true, null]) {
          check(N, { k, v })
          check(N, { k, t: true, v })
        }
      }
    })

    it("unions: a tag value that is an object is left to Schema, down to its exceptions", () => {
      const U = Schema.Union(Schema.TaggedStruct("A", {}), Schema.Struct({}))
      check(U, { _tag: { toString: () => "A" } })
      check(U, { _tag: ["A"] })
      const weird = { _tag: Object.create(null) }
      expect(() => Schema.decodeUnknownEither(U)(weird)).toThrow()
      expect(() => FastSchema.decodeUnknownEither(U)(weird)).toThrow()
    })

    it("unions of primitives and literals return the input", () => {
      const U = Schema.Union(Schema.NullOr(Schema.String), Schema.Literal(1, "a", true), Schema.Array(Schema.Number))
      for (const input of [null, "x", 1, 2, true, false, [1], ["a"], undefined, {}]) check(U, input)
    })
  })

  describe("bails to Schema", () => {
    class Err extends Schema.TaggedError<Err>()("Err", { message: Schema.String }) {}
    class Person extends Schema.Class<Person>("Person")({ name: Schema.String }) {}
    interface Tree {
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({ children: Schema.Array(Schema.suspend(() => Tree)) })
    const unsupported: ReadonlyArray<readonly [string, Any]> = [
      ["a refinement", Schema.String.pipe(Schema.minLength(1))],
      ["a transformation", Schema.NumberFromString],
      ["a TaggedError", Err],
      ["a Class", Person],
      ["a suspend", Tree],
      ["a record", Schema.Record({ key: Schema.String, value: Schema.Number })],
      ["a bigint literal", Schema.Literal(1n)],
      ["an enum", Schema.Enums({ A: "a", B: "b" })],
      ["a template literal", Schema.TemplateLiteral("a", Schema.String)],
      ["a default", Schema.Struct({ a: Schema.optionalWith(Schema.String, { default: () => "d" }) })],
      ["a struct with one unsupported field", Schema.Struct({ a: Schema.String, n: Schema.NumberFromString })],
      ["a union with one unsupported member", Schema.Union(Schema.String, Schema.NumberFromString)],
      [
        "parse options",
        Schema.Struct({ a: Schema.String }).annotations({ parseOptions: { onExcessProperty: "error" } })
      ],
      [
        "a nested parse option",
        Schema.Struct({ s: Schema.Struct({ a: Schema.String }).annotations({ parseOptions: { exact: true } }) })
      ],
      ["a decoding fallback", Schema.String.annotations({ decodingFallback: () => Either.right("fallback") })],
      ["a __proto__ field", Schema.Struct({ ["__proto__"]: Schema.String })]
    ]
    const inputs: ReadonlyArray<unknown> = [
      "",
      "1",
      "a1",
      1,
      1n,
      "a",
      { a: "x" },
      { a: "x", b: 1 },
      { a: "x", n: "2" },
      { message: "m", _tag: "Err" },
      { name: "n" },
      { children: [{ children: [] }] },
      { s: { a: "x" } },
      { s: {} },
      JSON.parse("{\"__proto__\":\"x\"}"),
      null
    ]
    for (const [name, schema] of unsupported) {
      it(name, () => {
        expect(FastSchema.isCompiled(schema)).toBe(false)
        for (const input of inputs) check(schema, input)
      })
    }

    it("Schema's own search tree breaks on a tag named like an Object.prototype member: so does this", () => {
      const make = () =>
        Schema.Union(
          Schema.Struct({ constructor: Schema.Literal("A") }),
          Schema.Struct({ constructor: Schema.Literal("B") })
        )
      expect(FastSchema.isCompiled(make())).toBe(false)
      const slow = (() => {
        try {
          return Schema.decodeUnknownEither(make())({ constructor: "A" })
        } catch (error) {
          return error
        }
      })()
      const fast = (() => {
        try {
          return FastSchema.decodeUnknownEither(make())({ constructor: "A" })
        } catch (error) {
          return error
        }
      })()
      expect(String(fast)).toBe(String(slow))
    })
  })
})
