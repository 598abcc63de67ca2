/**
 * Delimiter framing: frames end with one of several byte sequences.
 *
 * ```
 *   delimiters ["\0"]:            a b \0 c \0        → "ab", "c"
 *   delimiters ["\r\n", "\n"]:    a \r \n b \n       → "a", "b"
 *   delimiters ["END", "ND"]:     x E N D            → "x"  (both end at D: the longest wins)
 *   delimiters ["abcd", "c"]:     x a b c d          → "xab", then "d" starts the next frame
 * ```
 *
 * Which delimiter matches: the match that ENDS first in the stream wins; among matches ending at
 * the same byte the longest wins (the shortest frame, like Netty). Unlike "leftmost start", this
 * rule never needs to look past the end of a match, so frames never depend on how the stream was
 * chunked. For delimiter sets where no delimiter occurs inside another (the usual case) it is the
 * same as "first match in the stream".
 *
 * `maxLength` bounds the frame content (delimiter excluded) and is enforced as soon as the bytes
 * buffered without a delimiter exceed it (a trailing partial delimiter is tolerated), so at most
 * `maxLength + longestDelimiter - 1` bytes are ever held.
 *
 * @example
 * ```ts
 * import * as Delimiter from "./Delimiter.ts"
 * const framing = Delimiter.make({ delimiters: ["\0"], maxLength: 4096 })
 * ```
 *
 * @since 0.1.0
 */
import type { Framing } from "./Framing.ts"
import * as Config from "./internal/framing/config.ts"
import * as Delimited from "./internal/framing/Delimited.ts"
import * as Matcher from "./internal/framing/Matcher.ts"

const CODEC = "Delimiter"

/**
 * Default `maxLength`: 64 KiB of frame content.
 * ```
 *   [ up to 65536 content bytes ] DELIM
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_LENGTH = 65536

/**
 * What `onDiscard` receives: the limit and the length of the dropped frame content.
 * ```
 *   delimiters ["|"], maxLength 2:   a b c d |   → onDiscard({ limit: 2, actual: 4 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DiscardInfo = Delimited.DiscardInfo

/**
 * A delimiter decoder: a `FrameDecoder` plus a `discarded` counter.
 * ```
 *   ["|"], maxLength 2, discard:  a b c | o k |  → frames "ok", discarded = 1
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DelimiterDecoder = Delimited.DelimitedDecoder

/**
 * Options of {@link make}.
 *
 * ```
 *   stripDelimiter true:   a b \0  → "ab"         false:  a b \0  → "ab\0"
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /**
   * The delimiters (strings are UTF-8 encoded). At least one; each non-empty; at most 256 bytes.
   */
  readonly delimiters: ReadonlyArray<Uint8Array | string> | Uint8Array | string
  /** Remove the delimiter from emitted frames. Default `true`. */
  readonly stripDelimiter?: boolean
  /** Largest frame content in bytes (delimiter excluded). Default {@link DEFAULT_MAX_LENGTH}. */
  readonly maxLength?: number
  /**
   * What to do with an over-long frame: `"fail"` (default) returns `FrameTooLarge` and fails the
   * decoder; `"discard"` drops bytes up to the end of the next delimiter and goes on.
   */
  readonly onTooLong?: "fail" | "discard"
  /**
   * Called once per dropped frame (`onTooLong: "discard"`), when its delimiter is found (or at
   * `finish`), with the full dropped content length. Must not throw.
   */
  readonly onDiscard?: (info: DiscardInfo) => void
  /** At end of stream, emit an unterminated last frame instead of returning `Truncated`. Default `false`. */
  readonly emitLastFrameAtEof?: boolean
  /**
   * Index (into `delimiters`) of the delimiter the encoder appends. It must decode as itself
   * (e.g. with `["abc", "b"]`, `"abc"` cannot be written: `"b"` would end the frame first).
   * Default: the first delimiter that does.
   */
  readonly encodeDelimiter?: number
}

/**
 * A delimiter {@link Framing} whose decoders are {@link DelimiterDecoder}s.
 * ```
 *   { codec: "Delimiter", maxFrameLength: maxLength, decoder(), encoder() }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DelimiterFraming extends Framing {
  readonly decoder: () => DelimiterDecoder
}

const utf8 = new TextEncoder()

/**
 * Delimiter framing.
 *
 * Encoder: appends `delimiters[encodeDelimiter]` (default: the first delimiter that decodes as
 * itself). It refuses (`Corrupted`) a frame containing a
 * delimiter, or whose end would merge with the appended delimiter into a different match
 * (e.g. `"a\r"` + `"\n"` under `["\r\n", "\n"]`); `FrameTooLarge` above `maxLength`.
 *
 * ```
 *   encode("ab") → a b \0            (delimiters ["\0"])
 * ```
 *
 * @throws FramingConfigError for an empty delimiter list, an empty or over-long delimiter, a
 *   `maxLength` that is not an integer in `[0, 2^31-1]`, an unknown `onTooLong`, a
 *   non-function `onDiscard`, or an explicit `encodeDelimiter` that is out of range or does
 *   not decode as itself.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): DelimiterFraming => {
  const raw = options?.delimiters
  const list = typeof raw === "string" || raw instanceof Uint8Array ? [raw] : raw
  if (!Array.isArray(list) || list.length === 0) {
    return Config.fail(CODEC, "delimiters", "at least one delimiter is required")
  }
  const delimiters: Array<Uint8Array> = []
  for (const d of list as ReadonlyArray<unknown>) {
    let bytes: Uint8Array
    if (typeof d === "string") bytes = utf8.encode(d)
    else if (d instanceof Uint8Array) bytes = d.slice()
    else return Config.fail(CODEC, "delimiters", `expected strings or Uint8Arrays, got ${String(d)}`)
    if (bytes.length === 0) return Config.fail(CODEC, "delimiters", "a delimiter is empty")
    if (bytes.length > 256) return Config.fail(CODEC, "delimiters", `a delimiter is ${bytes.length} bytes (max 256)`)
    delimiters.push(bytes)
  }
  // drop duplicates (they would only slow the search down)
  const distinct = delimiters.filter((d, i) => delimiters.findIndex((e) => sameBytes(d, e)) === i)
  const makeMatcher = () => Matcher.sequences(distinct)
  const probe = makeMatcher()
  const decodesAsItself = (d: Uint8Array): boolean => {
    probe.begin()
    return probe.find(d, 0, d.length) === d.length && probe.matchLength === d.length
  }
  let encodeBytes: Uint8Array
  if (options.encodeDelimiter === undefined) {
    // the first that decodes as itself; there is always one (a shortest delimiter does)
    encodeBytes = delimiters.find(decodesAsItself) ?? delimiters[0]
  } else {
    encodeBytes =
      delimiters[Config.integer(CODEC, "encodeDelimiter", options.encodeDelimiter, 0, 0, delimiters.length - 1)]
    if (!decodesAsItself(encodeBytes)) {
      Config.fail(CODEC, "encodeDelimiter", "this delimiter does not decode as itself (another delimiter ends first)")
    }
  }
  const settings: Delimited.DelimitedSettings = {
    codec: CODEC,
    makeMatcher,
    maxLength: Config.integer(CODEC, "maxLength", options.maxLength, DEFAULT_MAX_LENGTH, 0, 0x7fffffff),
    stripDelimiter: Config.oneOf(CODEC, "stripDelimiter", options.stripDelimiter, true, [true, false]),
    onTooLong: Config.oneOf(CODEC, "onTooLong", options.onTooLong, "fail", ["fail", "discard"] as const),
    onDiscard: Config.callback(CODEC, "onDiscard", options.onDiscard),
    emitLastAtEof: Config.oneOf(CODEC, "emitLastFrameAtEof", options.emitLastFrameAtEof, false, [true, false])
  }
  return {
    codec: CODEC,
    maxFrameLength: settings.maxLength,
    decoder: () => Delimited.decoder(settings),
    encoder: () => Delimited.encoder(settings, encodeBytes)
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
