/**
 * Line framing: frames are separated by `\n` (or `\r\n`).
 *
 * ```
 *   wire:    P I N G \r \n  G E T   k \n  \r \n
 *   frames:  "PING"          "GET k"       ""        (stripDelimiter: true, "crlf-or-lf")
 * ```
 *
 * - A CR at the end of one chunk and the LF at the start of the next are one delimiter.
 * - A lone CR (not followed by LF) is ordinary data.
 * - `maxLength` bounds the line content (delimiter excluded). It is enforced as soon as more than
 *   `maxLength` bytes without LF are buffered (one extra trailing CR is tolerated, it may be half
 *   a CRLF), so at most `maxLength + 1` bytes are ever held.
 *
 * @example
 * ```ts
 * import * as Lines from "./Lines.ts"
 * const framing = Lines.make({ maxLength: 1024 })
 * const decoder = framing.decoder()
 * const out: Array<Uint8Array> = []
 * decoder.decode(new TextEncoder().encode("PING\r\nPI"), out) // out: ["PING"], buffered: 2
 * ```
 *
 * @since 0.1.0
 */
import type { Framing } from "./Framing.ts"
import * as Config from "./internal/framing/config.ts"
import * as Delimited from "./internal/framing/Delimited.ts"
import * as Matcher from "./internal/framing/Matcher.ts"

const CODEC = "Lines"

/**
 * Default `maxLength`: 8 KiB of line content.
 * ```
 *   [ up to 8192 content bytes ] \r \n
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_MAX_LENGTH = 8192

/**
 * What `onDiscard` receives: the limit and the length of the dropped line content.
 * ```
 *   maxLength 3:   t o o l o n g \n   → onDiscard({ limit: 3, actual: 7 })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DiscardInfo = Delimited.DiscardInfo

/**
 * A line decoder: a `FrameDecoder` plus a `discarded` counter.
 * ```
 *   maxLength 2, discard:  a b c \n o k \n  → frames "ok", discarded = 1
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type LinesDecoder = Delimited.DelimitedDecoder

/**
 * Options of {@link make}.
 *
 * ```
 *   delimiter "lf":          a \n        → "a"        a \r \n → "a\r"
 *   delimiter "crlf-or-lf":  a \n        → "a"        a \r \n → "a"
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** Which line ends are recognised. Default `"crlf-or-lf"`. */
  readonly delimiter?: "lf" | "crlf-or-lf"
  /** Remove the line end from emitted frames. Default `true`. */
  readonly stripDelimiter?: boolean
  /** Largest line content in bytes (line end excluded). Default {@link DEFAULT_MAX_LENGTH}. */
  readonly maxLength?: number
  /**
   * What to do with an over-long line: `"fail"` (default) returns `FrameTooLarge` and fails the
   * decoder; `"discard"` drops bytes up to the next line end and goes on with the next line.
   */
  readonly onTooLong?: "fail" | "discard"
  /**
   * Called once per dropped line (`onTooLong: "discard"`), when its end is found (or at
   * `finish`), with the full dropped content length. Must not throw.
   */
  readonly onDiscard?: (info: DiscardInfo) => void
  /**
   * At end of stream, emit an unterminated last line as a frame instead of returning
   * `Truncated`. Default `false`.
   */
  readonly emitLastLineAtEof?: boolean
  /**
   * Line end written by the encoder. Default: `"lf"` for `delimiter: "lf"`, `"crlf"` otherwise.
   * (`delimiter: "lf"` with `encodeDelimiter: "crlf"` is allowed, to talk CRLF to a lenient peer;
   * a peer using those same options would see each line end with CR.)
   */
  readonly encodeDelimiter?: "lf" | "crlf"
}

/**
 * A line {@link Framing} whose decoders are {@link LinesDecoder}s.
 * ```
 *   { codec: "Lines", maxFrameLength: maxLength, decoder(), encoder() }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LinesFraming extends Framing {
  readonly decoder: () => LinesDecoder
}

const LF_BYTES = new Uint8Array([10])
const CRLF_BYTES = new Uint8Array([13, 10])

/**
 * Line framing.
 *
 * Decoder: see the module docs. Encoder: appends the line end; it refuses (`Corrupted`) a frame
 * containing LF (it would arrive as two lines) and, when decoding CRLF-or-LF but encoding LF, a
 * frame ending in CR (it would lose that CR); `FrameTooLarge` above `maxLength`.
 *
 * ```
 *   encode("PING") → P I N G \r \n        (encodeDelimiter "crlf")
 * ```
 *
 * @throws FramingConfigError for an unknown `delimiter`/`onTooLong`/`encodeDelimiter`, a
 *   `maxLength` that is not an integer in `[0, 2^31-1]`, or a non-function `onDiscard`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): LinesFraming => {
  const delimiter = Config.oneOf(CODEC, "delimiter", options.delimiter, "crlf-or-lf", ["lf", "crlf-or-lf"] as const)
  const settings: Delimited.DelimitedSettings = {
    codec: CODEC,
    makeMatcher: delimiter === "lf" ? Matcher.lf : Matcher.crlfOrLf,
    maxLength: Config.integer(CODEC, "maxLength", options.maxLength, DEFAULT_MAX_LENGTH, 0, 0x7fffffff),
    stripDelimiter: Config.oneOf(CODEC, "stripDelimiter", options.stripDelimiter, true, [true, false]),
    onTooLong: Config.oneOf(CODEC, "onTooLong", options.onTooLong, "fail", ["fail", "discard"] as const),
    onDiscard: Config.callback(CODEC, "onDiscard", options.onDiscard),
    emitLastAtEof: Config.oneOf(CODEC, "emitLastLineAtEof", options.emitLastLineAtEof, false, [true, false])
  }
  const encodeDelimiter = Config.oneOf(
    CODEC,
    "encodeDelimiter",
    options.encodeDelimiter,
    delimiter === "lf" ? "lf" : "crlf",
    ["lf", "crlf"] as const
  )
  const delimiterBytes = encodeDelimiter === "lf" ? LF_BYTES : CRLF_BYTES
  return {
    codec: CODEC,
    maxFrameLength: settings.maxLength,
    decoder: () => Delimited.decoder(settings),
    encoder: () => Delimited.encoder(settings, delimiterBytes)
  }
}
