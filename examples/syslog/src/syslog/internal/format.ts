/**
 * Writes a message's fields back as bytes: RFC 5424 (`-` for each absent
 * field, PARAM-VALUE escaped) or RFC 3164. What the lexer reads back is the
 * same fields, except that an RFC 3164 message without a TAG whose content
 * looks like `word: ...` reads back with that word as its TAG.
 */
import { Either } from "effect"
import type { SyslogFields } from "../SyslogMessage.ts"

const utf8 = new TextEncoder()

const orNil = (s: string | null): string => s ?? "-"

/** `"`, `\` and `]` escaped with a backslash (RFC 5424 section 6.3.3). */
const escape = (value: string): string => value.replace(/["\\\]]/g, (c) => `\\${c}`)

const structuredData = (sd: SyslogFields["structuredData"]): string =>
  sd.length === 0
    ? "-"
    : sd.map((e) => `[${e.id}${e.params.map((p) => ` ${p.name}="${escape(p.value)}"`).join("")}]`).join("")

/** The message's bytes, or why its fields cannot be written in its format. */
export const format = (m: SyslogFields): Either.Either<Uint8Array, string> => {
  if (m.format === "rfc5424") {
    const header = `<${m.priority}>${m.version ?? 1} ${orNil(m.timestamp)} ${orNil(m.hostname)} ${orNil(m.appName)} ${
      orNil(m.procId)
    } ${orNil(m.msgId)} ${structuredData(m.structuredData)}`
    return Either.right(utf8.encode(m.message === "" ? header : `${header} ${m.message}`))
  }
  if (m.timestamp === null || m.hostname === null) {
    return Either.left("an RFC 3164 message needs a timestamp and a hostname")
  }
  const tag = m.appName === null ? "" : `${m.appName}${m.procId === null ? "" : `[${m.procId}]`}: `
  return Either.right(utf8.encode(`<${m.priority}>${m.timestamp} ${m.hostname} ${tag}${m.message}`))
}
