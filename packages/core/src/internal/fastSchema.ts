/**
 * Specialised validators for the JSON-shaped, transformation-free part of
 * Effect Schema, used by `Protocol.schema` on every message.
 *
 * Schema's generic parser is built for effects, transformations and error
 * accumulation, and for small messages that machinery costs more than the
 * check itself. For a schema made only of keywords, literals, structs,
 * arrays/tuples and unions of those, `decodeUnknownEither` / `encodeEither`
 * here build the same output Schema would (same values, same key order) with
 * a tree of plain closures. Any input the tree does not accept is handed to
 * Schema itself, so failures are Schema's own `ParseError`; a schema with any
 * other node gets Schema's function unchanged.
 */
import type { ParseResult } from "effect"
import { Either, Option, Schema, SchemaAST as AST } from "effect"

/** The input does not match: Schema fails on it too. */
const FAIL: unique symbol = Symbol("fastSchema/Fail")
/** The outcome depends on a corner not reproduced here: ask Schema. */
const ABORT: unique symbol = Symbol("fastSchema/Abort")
/** Returns the output, or `FAIL` exactly when Schema's parser of the same node fails, or `ABORT`. */
type Parser = (u: unknown) => unknown

const hasOwn = Object.prototype.hasOwnProperty
const identity: Parser = (u) => u

const compile = (ast: AST.AST): Parser | undefined => {
  // Both annotations change how Schema parses the node (and, for parse
  // options, everything under it).
  if (Option.isSome(AST.getParseOptionsAnnotation(ast)) || Option.isSome(AST.getDecodingFallbackAnnotation(ast))) {
    return undefined
  }
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => typeof u === "string" ? u : FAIL
    case "NumberKeyword":
      return (u) => typeof u === "number" ? u : FAIL
    case "BooleanKeyword":
      return (u) => typeof u === "boolean" ? u : FAIL
    case "UndefinedKeyword":
      return (u) => u === undefined ? u : FAIL
    case "UnknownKeyword":
    case "AnyKeyword":
    case "VoidKeyword":
      return identity
    case "Literal": {
      const literal = ast.literal
      return typeof literal === "bigint" ? undefined : (u) => u === literal ? u : FAIL
    }
    case "TypeLiteral":
      return typeLiteral(ast)
    case "TupleType":
      return tuple(ast)
    case "Union":
      return union(ast)
    default:
      return undefined
  }
}

const typeLiteral = (ast: AST.TypeLiteral): Parser | undefined => {
  if (ast.indexSignatures.length > 0) return undefined
  // Schema's parser for `{}` is a bare "not null or undefined" check that
  // returns the input itself.
  if (ast.propertySignatures.length === 0) return (u) => u === null || u === undefined ? FAIL : u
  const names: Array<string> = []
  const optional: Array<boolean> = []
  const nodes: Array<Parser> = []
  for (const ps of ast.propertySignatures) {
    // An output assignment to `__proto__` would set the prototype instead.
    if (typeof ps.name !== "string" || ps.name === "__proto__") return undefined
    const node = compile(ps.type)
    if (node === undefined) return undefined
    names.push(ps.name)
    optional.push(ps.isOptional)
    nodes.push(node)
  }
  const n = names.length
  return (u) => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return FAIL
    // Like Schema without the `exact` option: an absent optional key stays
    // absent, an absent required key is read anyway (inherited values count),
    // excess keys are dropped, and keys come out in the schema's order.
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const name = names[i]
      if (optional[i] && !hasOwn.call(u, name)) continue
      const v = nodes[i]((u as Record<string, unknown>)[name])
      if (v === FAIL || v === ABORT) return v
      out[name] = v
    }
    return out
  }
}

const tuple = (ast: AST.TupleType): Parser | undefined => {
  if (ast.rest.length > 1) return undefined
  const elements: Array<Parser> = []
  let required = 0
  for (const e of ast.elements) {
    const node = compile(e.type)
    if (node === undefined) return undefined
    elements.push(node)
    if (!e.isOptional) required++
  }
  const rest = ast.rest.length === 1 ? compile(ast.rest[0].type) : null
  if (rest === undefined) return undefined
  const ne = elements.length
  return (u) => {
    if (!Array.isArray(u)) return FAIL
    const len = u.length
    if (len < required || (rest === null && len > ne)) return FAIL
    // Schema always builds a new array; missing optional elements can only
    // be trailing, so the output stays dense.
    const out = new Array(len)
    for (let i = 0; i < len; i++) {
      const v = (i < ne ? elements[i] : rest!)(u[i])
      if (v === FAIL || v === ABORT) return v
      out[i] = v
    }
    return out
  }
}

/** The members' required literal-typed properties (or tuple elements), as Schema's union search sees them. */
const literalTags = (ast: AST.AST): Array<readonly [string, AST.LiteralValue]> => {
  const out: Array<readonly [string, AST.LiteralValue]> = []
  if (AST.isTypeLiteral(ast)) {
    for (const ps of ast.propertySignatures) {
      if (AST.isLiteral(ps.type) && !ps.isOptional) out.push([ps.name as string, ps.type.literal])
    }
  } else if (AST.isTupleType(ast)) {
    ast.elements.forEach((e, i) => {
      if (AST.isLiteral(e.type) && !e.isOptional) out.push([String(i), e.type.literal])
    })
  }
  return out
}

const union = (ast: AST.Union): Parser | undefined => {
  const nodes = new Map<AST.AST, Parser>()
  for (const member of ast.types) {
    const node = compile(member)
    if (node === undefined) return undefined
    nodes.set(member, node)
  }
  // Schema tries the members in a fixed order for each input (first success
  // wins): those filed under the input's own tag values, key by key, then the
  // untagged ones. This rebuilds Schema's filing of the members, including
  // its rule for a member with several tags and its `String(value)` keys.
  const byKey: Record<string, Map<string, Array<AST.AST>>> = {}
  const otherwise: Array<Parser> = []
  for (const member of ast.types) {
    const tags = literalTags(member)
    if (tags.length === 0) otherwise.push(nodes.get(member)!)
    for (let j = 0; j < tags.length; j++) {
      const [key, literal] = tags[j]
      const hash = String(literal)
      // Schema files tags in plain objects, where these names misbehave.
      if (key in Object.prototype || hash === "__proto__") return undefined
      const buckets = (byKey[key] ??= new Map())
      const bucket = buckets.get(hash)
      if (bucket === undefined) {
        buckets.set(hash, [member])
        break
      }
      if (j === tags.length - 1) bucket.push(member)
    }
  }
  const keys = Reflect.ownKeys(byKey) as Array<string>
  // Looked up by the input's value itself: each entry is a value whose
  // `String` is the bucket's key, so no string is built per message.
  const tables = keys.map((key) => {
    const table = new Map<unknown, ReadonlyArray<Parser>>()
    for (const [hash, members] of byKey[key]) {
      const candidates = members.map((m) => nodes.get(m)!)
      table.set(hash, candidates)
      if (String(Number(hash)) === hash) table.set(Number(hash), candidates)
      for (const v of [true, false, null, undefined]) if (String(v) === hash) table.set(v, candidates)
    }
    return table
  })
  const nk = keys.length
  const no = otherwise.length
  return (u) => {
    if (typeof u === "object" && u !== null) {
      // Schema stringifies every tag value before trying any member: leave
      // values whose `String` is not a plain conversion to Schema.
      for (let k = 0; k < nk; k++) {
        if (!hasOwn.call(u, keys[k])) continue
        const v = (u as Record<string, unknown>)[keys[k]]
        if (
          (typeof v === "object" && v !== null) || typeof v === "function" || typeof v === "symbol" ||
          typeof v === "bigint"
        ) {
          return ABORT
        }
      }
      for (let k = 0; k < nk; k++) {
        if (!hasOwn.call(u, keys[k])) continue
        const candidates = tables[k].get((u as Record<string, unknown>)[keys[k]])
        if (candidates === undefined) continue
        for (let i = 0; i < candidates.length; i++) {
          const r = candidates[i](u)
          if (r !== FAIL) return r
        }
      }
    }
    for (let i = 0; i < no; i++) {
      const r = otherwise[i](u)
      if (r !== FAIL) return r
    }
    return FAIL
  }
}

const compiled = new WeakMap<AST.AST, Parser | null>()
const compileMemo = (ast: AST.AST): Parser | undefined => {
  let node = compiled.get(ast)
  if (node === undefined) {
    node = compile(ast) ?? null
    compiled.set(ast, node)
  }
  return node ?? undefined
}

const withFallback = <A>(
  node: Parser | undefined,
  slow: (u: any) => Either.Either<A, ParseResult.ParseError>
): (u: any) => Either.Either<A, ParseResult.ParseError> =>
  node === undefined ? slow : (u) => {
    const r = node(u)
    return r === FAIL || r === ABORT ? slow(u) : Either.right(r as A)
  }

/**
 * The same results as `Schema.decodeUnknownEither(schema)` for every input,
 * through a compiled validator when the schema allows one.
 */
export const decodeUnknownEither = <A, I>(
  schema: Schema.Schema<A, I, never>
): (u: unknown) => Either.Either<A, ParseResult.ParseError> =>
  withFallback(compileMemo(schema.ast), Schema.decodeUnknownEither(schema))

/**
 * The same results as `Schema.encodeEither(schema)`. The compiled path only
 * exists for transformation-free schemas, whose encoding is the same
 * validation and copy as their decoding.
 */
export const encodeEither = <A, I>(
  schema: Schema.Schema<A, I, never>
): (a: A) => Either.Either<I, ParseResult.ParseError> =>
  withFallback(compileMemo(schema.ast), Schema.encodeEither(schema))

/** Whether the schema gets a compiled validator (otherwise Schema's own parser is used). */
export const isCompiled = (schema: Schema.Schema.Any): boolean => compileMemo(schema.ast) !== undefined
