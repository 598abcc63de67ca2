/**
 * Message codecs: turning frames (bytes) into typed messages and back. A message codec sits on
 * top of a `Framing`:
 *
 * ```
 *   socket bytes ─Framing→ frames (Uint8Array) ─MessageCodec→ messages (A)
 *   messages (A) ─MessageCodec→ frames ─Framing→ ByteBuffer → socket
 * ```
 *
 * Decoding and encoding are per message: a bad frame is one `MessageError` (a `Left`) and does not
 * poison the next one. Per-connection state (e.g. a streaming UTF-8 decoder) lives in the
 * closures made by `decoder()` / `encoder()`, called once per connection.
 *
 * Built-ins: {@link text}, {@link textStream}, {@link json}, {@link schema}; MessagePack is in
 * `Msgpack.ts`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as MessageCodec from "./MessageCodec.ts"
 * const Ping = Schema.Struct({ type: Schema.Literal("ping"), id: Schema.Number })
 * const codec = MessageCodec.schema(Ping) // JSON on the wire, validated both ways
 * const decode = codec.decoder()
 * decode(new TextEncoder().encode('{"type":"ping","id":1}')) // Right({ type: "ping", id: 1 })
 * ```
 *
 * @since 0.1.0
 */
import { Data, Either, Schema } from "effect"
import type { ParseOptions } from "effect/SchemaAST"

/**
 * A message codec: per-connection decoder/encoder factories.
 *
 * ```
 *   decoder()(frame: Uint8Array) → Right(message) | Left(MessageError "Decode")
 *   encoder()(message)           → Right(frame)   | Left(MessageError "Encode")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageCodec<A> {
  /** Codec name, as used in {@link MessageError.codec}. */
  readonly name: string
  /** Fresh decoding state (one per connection). */
  decoder(): (frame: Uint8Array) => Either.Either<A, MessageError>
  /** Fresh encoding state (one per connection). */
  encoder(): (message: A) => Either.Either<Uint8Array, MessageError>
}

/**
 * One message could not be decoded or encoded. `cause` holds the underlying error (a
 * `TypeError` from `TextDecoder`, a `SyntaxError` from `JSON.parse`, a `ParseError`, ...).
 *
 * ```
 *   MessageError { reason: "Decode", codec: "json", detail: "Unexpected token ..." }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class MessageError extends Data.TaggedError("MessageError")<{
  /** The direction that failed. */
  readonly reason: "Decode" | "Encode"
  /** The codec (`"text"`, `"json"`, `"json+schema"`, `"msgpack"`, ...). */
  readonly codec: string
  /** What was wrong, in a sentence. */
  readonly detail: string
  /** The parser's or Schema's own error, when there is one. */
  readonly cause?: unknown
}> {
  /** A human readable sentence. */
  override get message(): string {
    return `${this.codec}: cannot ${this.reason === "Decode" ? "decode" : "encode"} message: ${this.detail}`
  }
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const decodeError = (codec: string, detail: string, cause?: unknown): MessageError =>
  new MessageError(
    cause === undefined ? { reason: "Decode", codec, detail } : { reason: "Decode", codec, detail, cause }
  )

const encodeError = (codec: string, detail: string, cause?: unknown): MessageError =>
  new MessageError(
    cause === undefined ? { reason: "Encode", codec, detail } : { reason: "Encode", codec, detail, cause }
  )

const utf8Encoder = new TextEncoder()
const STREAM = { stream: true } as const

/**
 * Options of {@link text} and {@link textStream}.
 * ```
 *   frame [61 FF]:   fatal true → Left(MessageError)     fatal false → Right("a\uFFFD")
 * ```
 *
 * @since 0.1.0
 * @category options
 */
export interface TextOptions {
  /**
   * Invalid UTF-8 is a `MessageError` (`true`) or becomes U+FFFD (`false`). Default: `true` for
   * {@link text}, `false` for {@link textStream}.
   */
  readonly fatal?: boolean
}

const encodeText = (): (message: string) => Either.Either<Uint8Array, MessageError> => (message) =>
  Either.right(utf8Encoder.encode(message))

/**
 * UTF-8 text, one complete string per frame (use over `Lines`, `LengthField`, ...). A leading
 * BOM is kept as U+FEFF (frames are data, not files). On encode, lone surrogates become U+FFFD.
 *
 * ```
 *   frame [68 C3 A9] → "hé"          frame [C3] → Left(MessageError)   (fatal, default)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const text = (options: TextOptions = {}): MessageCodec<string> => {
  const fatal = options.fatal ?? true
  const name = "text"
  return {
    name,
    decoder() {
      const decoder = new TextDecoder("utf-8", { fatal, ignoreBOM: true })
      return (frame) => {
        try {
          return Either.right(decoder.decode(frame))
        } catch (error) {
          return Either.left(decodeError(name, `invalid UTF-8: ${describe(error)}`, error))
        }
      }
    },
    encoder: encodeText
  }
}

/**
 * UTF-8 text over a chunk stream (use over `PassThrough`): a character split across frames is
 * completed by the next frame instead of being corrupted; a frame holding only the start of a
 * character decodes to `""`. Bytes of an unfinished character at end of stream are dropped.
 * With `fatal: true`, invalid UTF-8 is a `MessageError` and the decoder starts afresh.
 *
 * ```
 *   frames [68 C3] [A9 21] → "h", "é!"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const textStream = (options: TextOptions = {}): MessageCodec<string> => {
  const fatal = options.fatal ?? false
  const name = "textStream"
  return {
    name,
    decoder() {
      let decoder = new TextDecoder("utf-8", { fatal, ignoreBOM: true })
      return (frame) => {
        try {
          return Either.right(decoder.decode(frame, STREAM))
        } catch (error) {
          decoder = new TextDecoder("utf-8", { fatal, ignoreBOM: true })
          return Either.left(decodeError(name, `invalid UTF-8: ${describe(error)}`, error))
        }
      }
    },
    encoder: encodeText
  }
}

/**
 * JSON in UTF-8, one value per frame. A bad frame is one `MessageError`; the next frame decodes
 * normally. Encoding fails for values JSON cannot represent (`undefined`, functions, bigint,
 * cycles).
 *
 * ```
 *   frame {"a":1}  → Right({ a: 1 })        frame {"a":  → Left(MessageError "Decode")
 *   encode({ a: 1 }) → [7B 22 61 22 3A 31 7D]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const json: MessageCodec<unknown> = {
  name: "json",
  decoder() {
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    return (frame) => {
      let source: string
      try {
        source = decoder.decode(frame)
      } catch (error) {
        return Either.left(decodeError("json", `invalid UTF-8: ${describe(error)}`, error))
      }
      try {
        return Either.right(JSON.parse(source))
      } catch (error) {
        return Either.left(decodeError("json", describe(error), error))
      }
    }
  },
  encoder() {
    return (message) => {
      let source: string | undefined
      try {
        source = JSON.stringify(message)
      } catch (error) {
        return Either.left(encodeError("json", describe(error), error))
      }
      if (source === undefined) {
        return Either.left(encodeError("json", `${typeof message} is not representable as JSON`))
      }
      return Either.right(utf8Encoder.encode(source))
    }
  }
}

/**
 * Validate messages with an effect `Schema` on top of a base codec (default {@link json}): the
 * base decodes the frame, then `Schema.decodeUnknownEither` checks/transforms it; encoding runs
 * `Schema.encodeEither` then the base encoder. Each failing message is its own `MessageError`
 * (`cause` is the `ParseError`; base codec errors pass through unchanged).
 *
 * ```
 *   frame {"id":"x"} with Struct({ id: Number }) → Left(MessageError { codec: "json+schema", detail: "...Expected number..." })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const schema = <A, I>(
  schema: Schema.Schema<A, I, never>,
  base: MessageCodec<I> | MessageCodec<unknown> = json,
  parseOptions?: ParseOptions
): MessageCodec<A> => {
  const name = `${base.name}+schema`
  const decodeUnknown = Schema.decodeUnknownEither(schema, parseOptions)
  const encode = Schema.encodeEither(schema, parseOptions)
  return {
    name,
    decoder() {
      const decodeBase: (frame: Uint8Array) => Either.Either<unknown, MessageError> = base.decoder()
      return (frame) => {
        const decoded = decodeBase(frame)
        if (Either.isLeft(decoded)) return Either.left(decoded.left)
        const result = decodeUnknown(decoded.right)
        return Either.isRight(result)
          ? Either.right(result.right)
          : Either.left(decodeError(name, result.left.message, result.left))
      }
    },
    encoder() {
      const encodeBase: (message: I) => Either.Either<Uint8Array, MessageError> = base.encoder()
      return (message) => {
        const result = encode(message)
        return Either.isRight(result)
          ? encodeBase(result.right)
          : Either.left(encodeError(name, result.left.message, result.left))
      }
    }
  }
}
