/**
 * A syslog message, typed, and the Schemas that read one from the bytes of a
 * datagram or a TCP frame: RFC 5424 and RFC 3164 (the BSD format `logger
 * --rfc3164` and most network gear still send).
 *
 * ```
 *   <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event
 *   └PRI┘V └──────TIMESTAMP───────┘ └──────HOSTNAME──────┘ └APP──┘ │ └MSGID└────STRUCTURED-DATA─────┘ └────MSG────────┘
 *                                                                PROCID
 *   <34>Oct 11 22:14:15 mymachine su[42]: 'su root' failed for lonvick on /dev/pts/8
 *   └PRI└──TIMESTAMP──┘ └HOSTNAME┘ └TAG[pid]: content─────────────────────────────┘
 * ```
 *
 * Reading is two steps, both behind {@link SyslogMessageFromBytes}: a lexer
 * cuts the bytes into fields (it fails on what it cannot cut: no `<`, a
 * header that ends early, an unterminated SD-ELEMENT), then the
 * {@link SyslogMessage} Schema checks every field (PRIVAL 0..191, timestamp
 * syntax, field lengths, printable US-ASCII) and decodes facility and
 * severity from PRI. {@link parse} runs both and reports a failure as one
 * {@link SyslogParseError} with a `reason` to count by.
 */
import { Data, Either, ParseResult, Schema } from "effect"
import * as Format from "./internal/format.ts"
import * as Lexer from "./internal/lexer.ts"
import * as Priority from "./Priority.ts"

/** PRINTUSASCII (33..126), from 1 to `max` characters. */
const printable = (max: number, what: string) =>
  Schema.String.pipe(
    Schema.pattern(/^[\x21-\x7e]+$/, { message: () => `${what} must be printable US-ASCII without spaces` }),
    Schema.maxLength(max, { message: () => `${what} is longer than ${max} characters` })
  )

/** SD-NAME: 1 to 32 printable US-ASCII characters except `=`, space, `]` and `"`. */
export const SdName = Schema.String.pipe(
  Schema.pattern(/^[\x21-\x7e]{1,32}$/, { message: () => "SD-NAME must be 1 to 32 printable US-ASCII characters" }),
  Schema.filter((s) => !/[=\]"]/.test(s) || "SD-NAME must not contain '=', ']' or '\"'")
)

/** SD-PARAM: `name="value"` (the value unescaped). */
export const SdParam = Schema.Struct({ name: SdName, value: Schema.String })
/** SD-PARAM: `name="value"` (the value unescaped). */
export type SdParam = typeof SdParam.Type

/** SD-ELEMENT: `[id name="value" ...]`. */
export const SdElement = Schema.Struct({ id: SdName, params: Schema.Array(SdParam) })
/** SD-ELEMENT: `[id name="value" ...]`. */
export type SdElement = typeof SdElement.Type

/** RFC 5424 TIMESTAMP: RFC 3339 with at most 6 fraction digits and no leap second. */
export const Rfc5424Timestamp = Schema.String.pipe(
  Schema.pattern(
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/,
    { message: () => "TIMESTAMP must be YYYY-MM-DDThh:mm:ss[.ffffff](Z|+hh:mm)" }
  )
)

/** RFC 3164 TIMESTAMP: `Mmm dd hh:mm:ss`, the day space-padded. */
export const Rfc3164Timestamp = Schema.String.pipe(
  Schema.pattern(
    /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ( [1-9]|0[1-9]|[12]\d|3[01]) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/,
    { message: () => "TIMESTAMP must be Mmm dd hh:mm:ss" }
  )
)

/** The two formats. */
export const SyslogFormat = Schema.Literal("rfc5424", "rfc3164")
/** The two formats. */
export type SyslogFormat = typeof SyslogFormat.Type

/**
 * A syslog message. Absent fields (`-` in RFC 5424; what RFC 3164 has no
 * field for) are `null`. For RFC 3164, `appName` and `procId` are the TAG and
 * the `[pid]` after it.
 */
export class SyslogMessage extends Schema.Class<SyslogMessage>("SyslogMessage")({
  format: SyslogFormat,
  /** PRIVAL, facility × 8 + severity. */
  priority: Priority.Priority,
  facility: Priority.Facility,
  severity: Priority.Severity,
  /** RFC 5424 VERSION (only 1 exists); `null` for RFC 3164. */
  version: Schema.NullOr(Schema.Literal(1)),
  /** As sent (no clock of ours is involved). */
  timestamp: Schema.NullOr(Schema.Union(Rfc5424Timestamp, Rfc3164Timestamp)),
  hostname: Schema.NullOr(printable(255, "HOSTNAME")),
  appName: Schema.NullOr(printable(48, "APP-NAME")),
  procId: Schema.NullOr(printable(128, "PROCID")),
  msgId: Schema.NullOr(printable(32, "MSGID")),
  structuredData: Schema.Array(SdElement),
  /** MSG, decoded as UTF-8 (a leading BOM removed). */
  message: Schema.String
}) {}

/** A message's fields as the lexer cuts them: PRI not yet split into facility and severity. */
export const SyslogFields = Schema.Struct({
  format: SyslogFormat,
  priority: Schema.Number,
  version: Schema.NullOr(Schema.Number),
  timestamp: Schema.NullOr(Schema.String),
  hostname: Schema.NullOr(Schema.String),
  appName: Schema.NullOr(Schema.String),
  procId: Schema.NullOr(Schema.String),
  msgId: Schema.NullOr(Schema.String),
  structuredData: Schema.Array(Schema.Struct({
    id: Schema.String,
    params: Schema.Array(Schema.Struct({ name: Schema.String, value: Schema.String }))
  })),
  message: Schema.String
})
/** A message's fields as the lexer cuts them. */
export type SyslogFields = typeof SyslogFields.Type

/** Fields → {@link SyslogMessage}: every field checked, facility and severity decoded from PRI. */
export const SyslogMessageFromFields = Schema.transform(SyslogFields, SyslogMessage, {
  // not strict: the fields are checked by the SyslogMessage side (version 1, lengths, ...) after this step
  strict: false,
  // a PRIVAL out of range leaves facility undefined: the Schema then fails on `priority`, the field before it
  decode: (fields) => ({ ...fields, ...(Priority.split(fields.priority) as Priority.FacilitySeverity) }),
  encode: ({ facility: _facility, severity: _severity, ...fields }) => fields
})

/** Why bytes are not a syslog message (what the receiver counts malformed input by). */
export type ParseErrorReason =
  /** Nothing (or only a line end) was sent. */
  | "Empty"
  /** No `<PRIVAL>`, or PRIVAL not 0..191, with a leading zero or over 3 digits. */
  | "BadPriority"
  /** The header ends before all its fields. */
  | "TruncatedHeader"
  /** An RFC 5424 VERSION other than 1. */
  | "BadVersion"
  /** Neither an RFC 5424 VERSION nor an RFC 3164 timestamp after PRI. */
  | "UnknownFormat"
  /** A timestamp that is not valid for its format. */
  | "BadTimestamp"
  /** HOSTNAME, APP-NAME, PROCID or MSGID too long or not printable US-ASCII. */
  | "BadHeaderField"
  /** STRUCTURED-DATA that is neither `-` nor well-formed SD-ELEMENTs. */
  | "BadStructuredData"
  /** More bytes than the receiver's `--max-message`. */
  | "TooLarge"

/** Bytes that are not a syslog message. */
export class SyslogParseError extends Data.TaggedError("SyslogParseError")<{
  readonly reason: ParseErrorReason
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

/** Which field of {@link SyslogMessage} a Schema issue is about → the reason it is counted under. */
const reasonOfField: Record<string, ParseErrorReason> = {
  priority: "BadPriority",
  facility: "BadPriority",
  severity: "BadPriority",
  version: "BadVersion",
  timestamp: "BadTimestamp",
  hostname: "BadHeaderField",
  appName: "BadHeaderField",
  procId: "BadHeaderField",
  msgId: "BadHeaderField",
  structuredData: "BadStructuredData"
}

const decodeFields = Schema.decodeEither(SyslogMessageFromFields)

/** Checks lexed fields with the {@link SyslogMessage} Schema; a failure names the first bad field. */
const check = (fields: SyslogFields): Either.Either<SyslogMessage, SyslogParseError> =>
  Either.mapLeft(decodeFields(fields), (error) => {
    const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
    const field = issue === undefined ? undefined : String(issue.path[0])
    const reason = (field !== undefined ? reasonOfField[field] : undefined) ?? "BadHeaderField"
    return new SyslogParseError({ reason, detail: issue === undefined ? error.message : `${field}: ${issue.message}` })
  })

/** Reads one message (a datagram, or a TCP frame without its framing). */
export const parse = (bytes: Uint8Array): Either.Either<SyslogMessage, SyslogParseError> => {
  const fields = Lexer.lex(bytes)
  return fields instanceof Lexer.LexError
    ? Either.left(new SyslogParseError({ reason: fields.reason, detail: fields.detail }))
    : check(fields)
}

/** Writes a message in its format (RFC 5424: `-` for each null; RFC 3164 needs a timestamp and a hostname). */
export const format = (message: SyslogFields): Either.Either<Uint8Array, string> => Format.format(message)

/** Bytes ⇄ {@link SyslogFields}: the lexer one way, {@link format} the other. */
export const SyslogFieldsFromBytes = Schema.transformOrFail(Schema.Uint8ArrayFromSelf, SyslogFields, {
  strict: true,
  decode: (bytes, _, ast) => {
    const fields = Lexer.lex(bytes)
    return fields instanceof Lexer.LexError
      ? ParseResult.fail(new ParseResult.Type(ast, bytes, `${fields.reason}: ${fields.detail}`))
      : ParseResult.succeed(fields)
  },
  encode: (fields, _, ast) =>
    Either.match(Format.format(fields), {
      onLeft: (detail) => ParseResult.fail(new ParseResult.Type(ast, fields, detail)),
      onRight: ParseResult.succeed
    })
})

/**
 * Bytes ⇄ {@link SyslogMessage}, as one Schema: what {@link parse} does (with
 * the lexer's failures as Schema issues instead of a {@link SyslogParseError}),
 * and {@link format} to encode.
 */
export const SyslogMessageFromBytes = Schema.compose(SyslogFieldsFromBytes, SyslogMessageFromFields)

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder()

/** A string ⇄ its UTF-8 bytes. */
const Utf8Bytes = Schema.transform(Schema.String, Schema.Uint8ArrayFromSelf, {
  strict: true,
  decode: (text) => utf8Encoder.encode(text),
  encode: (bytes) => utf8Decoder.decode(bytes)
})

/** A string (a line of a log file, a test vector) ⇄ {@link SyslogMessage}: {@link SyslogMessageFromBytes} over its UTF-8. */
export const SyslogMessageFromString = Schema.compose(Utf8Bytes, SyslogMessageFromBytes)
