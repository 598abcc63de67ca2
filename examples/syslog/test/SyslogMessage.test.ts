import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as fc from "fast-check"
import * as Priority from "../src/syslog/Priority.ts"
import * as SyslogMessage from "../src/syslog/SyslogMessage.ts"
import { bytes, concat } from "./helpers.ts"

const BOM = Uint8Array.of(0xef, 0xbb, 0xbf)

const parse = (input: string | Uint8Array) => SyslogMessage.parse(typeof input === "string" ? bytes(input) : input)

const ok = (input: string | Uint8Array) => {
  const r = parse(input)
  if (Either.isLeft(r)) throw new Error(`expected a message, got ${r.left.message}`)
  return r.right
}

const fails = (input: string | Uint8Array) => {
  const r = parse(input)
  if (Either.isRight(r)) throw new Error(`expected a parse error, got ${JSON.stringify(r.right)}`)
  return r.left
}

describe("RFC 5424: the examples of section 6.5", () => {
  it("example 1: no STRUCTURED-DATA, MSG with a BOM", () => {
    const m = ok(
      concat(
        bytes("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "),
        BOM,
        bytes("'su root' failed for lonvick on /dev/pts/8")
      )
    )
    expect(m).toBeInstanceOf(SyslogMessage.SyslogMessage)
    expect({ ...m }).toEqual({
      format: "rfc5424",
      priority: 34,
      facility: "auth",
      severity: "crit",
      version: 1,
      timestamp: "2003-10-11T22:14:15.003Z",
      hostname: "mymachine.example.com",
      appName: "su",
      procId: null,
      msgId: "ID47",
      structuredData: [],
      message: "'su root' failed for lonvick on /dev/pts/8"
    })
  })

  it("example 2: microseconds and a UTC offset, no BOM", () => {
    const m = ok("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
    expect(m).toMatchObject({
      facility: "local4",
      severity: "notice",
      timestamp: "2003-08-24T05:14:15.000003-07:00",
      hostname: "192.0.2.1",
      appName: "myproc",
      procId: "8710",
      msgId: null,
      message: "%% It's time to make the do-nuts."
    })
  })

  const sd = "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
  it("example 3: one SD-ELEMENT and a message", () => {
    const m = ok(
      concat(
        bytes(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd} `),
        BOM,
        bytes("An application event log entry...")
      )
    )
    expect(m.structuredData).toEqual([{
      id: "exampleSDID@32473",
      params: [{ name: "iut", value: "3" }, { name: "eventSource", value: "Application" }, {
        name: "eventID",
        value: "1011"
      }]
    }])
    expect(m.message).toBe("An application event log entry...")
  })

  it("example 4: two SD-ELEMENTs and no MSG", () => {
    const m = ok(
      `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 ${sd}[examplePriority@32473 class="high"]`
    )
    expect(m.structuredData.map((e) => e.id)).toEqual(["exampleSDID@32473", "examplePriority@32473"])
    expect(m.structuredData[1]!.params).toEqual([{ name: "class", value: "high" }])
    expect(m.message).toBe("")
  })

  it("PARAM-VALUE escapes: \\\", \\\\ and \\] are unescaped, any other backslash is kept; UTF-8 values", () => {
    const m = ok(String.raw`<13>1 - h a p m [x@1 a="q\"b\\c\]d\ne" b="" c="été"] msg`)
    expect(m.structuredData[0]!.params).toEqual([
      { name: "a", value: String.raw`q"b\c]d\ne` },
      { name: "b", value: "" },
      { name: "c", value: "été" }
    ])
    expect(m.message).toBe("msg")
    expect({ hostname: m.hostname, appName: m.appName, procId: m.procId, msgId: m.msgId }).toEqual({
      hostname: "h",
      appName: "a",
      procId: "p",
      msgId: "m"
    })
  })

  it("the timestamps of section 6.2.3.1: four valid, nanoseconds invalid", () => {
    for (const ts of ["1985-04-12T23:20:50.52Z", "1985-04-12T19:20:50.52-04:00", "2003-10-11T22:14:15.003Z"]) {
      expect(ok(`<13>1 ${ts} - - - - -`).timestamp).toBe(ts)
    }
    expect(ok("<13>1 2003-08-24T05:14:15.000003-07:00 - - - - -").timestamp).toBe("2003-08-24T05:14:15.000003-07:00")
    expect(fails("<13>1 2003-08-24T05:14:15.000000003-07:00 - - - - -").reason).toBe("BadTimestamp")
    expect(fails("<13>1 2003-10-11 - - - - -").reason).toBe("BadTimestamp")
  })

  it("every PRIVAL from 0 to 191 decodes to facility × 8 + severity", () => {
    for (let pri = 0; pri <= 191; pri++) {
      const m = ok(`<${pri}>1 - - - - - -`)
      expect(Priority.facilities.indexOf(m.facility) * 8 + Priority.severities.indexOf(m.severity)).toBe(pri)
      expect(Schema.encodeSync(Priority.FacilitySeverityFromPriority)(m)).toBe(pri)
    }
    expect(ok("<0>1 - - - - - -")).toMatchObject({ facility: "kern", severity: "emerg" })
    expect(ok("<191>1 - - - - - -")).toMatchObject({ facility: "local7", severity: "debug" })
  })
})

describe("RFC 3164: the examples of section 5.4", () => {
  it("TAG and content", () => {
    const m = ok("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    expect({ ...m }).toEqual({
      format: "rfc3164",
      priority: 34,
      facility: "auth",
      severity: "crit",
      version: null,
      timestamp: "Oct 11 22:14:15",
      hostname: "mymachine",
      appName: "su",
      procId: null,
      msgId: null,
      structuredData: [],
      message: "'su root' failed for lonvick on /dev/pts/8"
    })
  })

  it("no TAG (the content's first word is not followed by ':' or '['); a space-padded day", () => {
    const m = ok("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
    expect(m).toMatchObject({
      timestamp: "Feb  5 17:32:18",
      hostname: "10.0.0.99",
      appName: null,
      message: "Use the BFG!"
    })
  })

  it("TAG[pid]: as logger -i sends it", () => {
    const m = ok("<13>Dec  3 20:51:53 vm myapp[2186]: hello 3164")
    expect(m).toMatchObject({ appName: "myapp", procId: "2186", message: "hello 3164", facility: "user" })
  })

  it("a relayed message: the original header is content", () => {
    const m = ok(
      "<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"
    )
    expect(m).toMatchObject({ hostname: "scapegoat", appName: null, severity: "emerg" })
    expect(m.message).toMatch(/^1990 Oct 22 .* That's All Folks!$/)
  })

  it("without PRI or with a year first it is refused (a receiver cannot tell it from garbage)", () => {
    expect(fails("Use the BFG!").reason).toBe("BadPriority")
    expect(fails("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!").reason)
      .toBe("BadVersion")
  })
})

describe("malformed input: a typed error with a reason, never a throw", () => {
  const cases: ReadonlyArray<readonly [string | Uint8Array, SyslogMessage.ParseErrorReason]> = [
    ["", "Empty"],
    ["no pri", "BadPriority"],
    ["<>1 - - - - - -", "BadPriority"],
    ["<1a>1 - - - - - -", "BadPriority"],
    ["<1234>1 - - - - - -", "BadPriority"],
    ["<013>1 - - - - - -", "BadPriority"],
    ["<192>1 - - - - - -", "BadPriority"],
    ["<999>Oct 11 22:14:15 host x", "BadPriority"],
    ["<13", "TruncatedHeader"],
    ["<13>", "TruncatedHeader"],
    ["<13>1", "TruncatedHeader"],
    ["<13>1 2003-10-11T22:14:15.003Z host", "TruncatedHeader"],
    ["<13>1 - - - - -", "TruncatedHeader"],
    ["<13>1 - - - - - ", "TruncatedHeader"],
    ["<13>1 -  - - - -", "TruncatedHeader"],
    ["<13>Oct 11 22:14", "TruncatedHeader"],
    ["<13>Oct 11 22:14:15 hostonly", "TruncatedHeader"],
    ["<13>2 - - - - - -", "BadVersion"],
    ["<13>1x - - - - - -", "BadVersion"],
    ["<13>hello", "UnknownFormat"],
    ["<13>Foo 11 22:14:15 host x", "UnknownFormat"],
    ["<13>Oct 32 22:14:15 host x", "BadTimestamp"],
    ["<13>Oct 11 24:14:15 host x", "BadTimestamp"],
    ["<13>1 2003-13-11T22:14:15Z - - - - -", "BadTimestamp"],
    ["<13>1 2003-10-11T22:14:60Z - - - - -", "BadTimestamp"],
    [`<13>1 - ${"h".repeat(256)} - - - -`, "BadHeaderField"],
    [`<13>1 - h ${"a".repeat(49)} - - -`, "BadHeaderField"],
    [`<13>1 - h a ${"p".repeat(129)} - -`, "BadHeaderField"],
    [`<13>1 - h a p ${"m".repeat(33)} -`, "BadHeaderField"],
    [concat(bytes("<13>1 - h\xe9 a p m -")), "BadHeaderField"],
    [concat(bytes("<13>1 - "), Uint8Array.of(0xff, 0x01), bytes(" a p m -")), "BadHeaderField"],
    ["<13>1 - - - - - x", "BadStructuredData"],
    ["<13>1 - - - - - [id", "BadStructuredData"],
    ["<13>1 - - - - - [id a=\"1\"", "BadStructuredData"],
    ["<13>1 - - - - - [id a=1]", "BadStructuredData"],
    ["<13>1 - - - - - [id a]", "BadStructuredData"],
    ["<13>1 - - - - - [id a=\"unterminated]", "BadStructuredData"],
    ["<13>1 - - - - - [id]x", "BadStructuredData"],
    ["<13>1 - - - - - -x", "BadStructuredData"],
    ["<13>1 - - - - - []", "BadStructuredData"],
    [`<13>1 - - - - - [${"i".repeat(33)}]`, "BadStructuredData"],
    [Uint8Array.of(0, 0xff, 0xfe, 0x10, 0x3c), "BadPriority"]
  ]
  it.each(cases)("%j → %s", (input, reason) => {
    const error = fails(input)
    expect(error).toBeInstanceOf(SyslogMessage.SyslogParseError)
    expect(error.reason).toBe(reason)
    expect(error.message).toMatch(new RegExp(`^${reason}: .+`))
  })

  it("random bytes never throw: a message or a SyslogParseError (fast-check)", () => {
    const nearMisses = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.string({ maxLength: 120 }).map((s) => bytes(`<${s}`)),
      fc.tuple(fc.nat(300), fc.string({ maxLength: 120 })).map(([p, s]) => bytes(`<${p}>1 ${s}`)),
      fc.tuple(fc.nat(200), fc.string({ maxLength: 120 })).map(([p, s]) => bytes(`<${p}>Oct 11 22:14:15 ${s}`))
    )
    fc.assert(
      fc.property(nearMisses, (input) => {
        const r = SyslogMessage.parse(input)
        if (Either.isLeft(r)) expect(r.left).toBeInstanceOf(SyslogMessage.SyslogParseError)
        else expect(r.right).toBeInstanceOf(SyslogMessage.SyslogMessage)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("SyslogMessageFromBytes: the same as a Schema, both ways", () => {
  const printable = (max: number) => fc.stringMatching(new RegExp(`^[\\x21-\\x7e]{1,${max}}$`))
  const sdName = fc.stringMatching(/^[\x21-\x7e]{1,32}$/).filter((s) => !/[=\]"]/.test(s))
  const fields = fc.record({
    format: fc.constant("rfc5424" as const),
    priority: fc.integer({ min: 0, max: 191 }),
    version: fc.constant(1),
    timestamp: fc.option(fc.constantFrom("2003-10-11T22:14:15.003Z", "1985-04-12T19:20:50.52-04:00"), { nil: null }),
    hostname: fc.option(printable(255).filter((s) => s !== "-"), { nil: null }),
    appName: fc.option(printable(48).filter((s) => s !== "-"), { nil: null }),
    procId: fc.option(printable(128).filter((s) => s !== "-"), { nil: null }),
    msgId: fc.option(printable(32).filter((s) => s !== "-"), { nil: null }),
    structuredData: fc.array(
      fc.record({ id: sdName, params: fc.array(fc.record({ name: sdName, value: fc.string({ maxLength: 20 }) })) }),
      { maxLength: 3 }
    ),
    // a message starting with a BOM would lose it: the BOM is the RFC's marker, not content
    message: fc.string({ maxLength: 100 }).filter((s) => !s.startsWith("\uFEFF"))
  })

  it("encode then decode gives back any RFC 5424 message (fast-check)", () => {
    const decode = Schema.decodeSync(SyslogMessage.SyslogMessageFromBytes)
    const encode = Schema.encodeSync(SyslogMessage.SyslogMessageFromBytes)
    fc.assert(
      fc.property(fields, (f) => {
        const m = Schema.decodeSync(SyslogMessage.SyslogMessageFromFields)(f)
        const wire = encode(m)
        expect({ ...decode(wire) }).toEqual({ ...m })
        expect(Either.getOrThrow(SyslogMessage.parse(wire))).toEqual(decode(wire))
      }),
      { numRuns: 300 }
    )
  })

  it("a failure is a ParseError that says why; RFC 3164 encodes with its TAG[pid]", () => {
    const decode = Schema.decodeUnknownEither(SyslogMessage.SyslogMessageFromBytes)
    const lexed = decode(bytes("<13>1 - - - - -"))
    expect(Either.isLeft(lexed) && lexed.left.message).toMatch(/TruncatedHeader: the message ends inside MSGID/)
    const checked = decode(bytes("<200>1 - - - - - -"))
    expect(Either.isLeft(checked) && checked.left.message).toMatch(/PRIVAL must be from 0 to 191/)
    const m = ok("<13>Dec  3 20:51:53 vm myapp[2186]: hello")
    expect(new TextDecoder().decode(Schema.encodeSync(SyslogMessage.SyslogMessageFromBytes)(m))).toBe(
      "<13>Dec  3 20:51:53 vm myapp[2186]: hello"
    )
    expect(Either.isLeft(SyslogMessage.format({ ...m, hostname: null }))).toBe(true)
  })

  it("SyslogMessageFromString reads and writes text", () => {
    const text = "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [x@1 k=\"v\\\"w\"] héllo"
    const m = Schema.decodeSync(SyslogMessage.SyslogMessageFromString)(text)
    expect(m).toMatchObject({
      hostname: "host",
      message: "héllo",
      structuredData: [{ id: "x@1", params: [{ name: "k", value: "v\"w" }] }]
    })
    expect(Schema.encodeSync(SyslogMessage.SyslogMessageFromString)(m)).toBe(text)
    expect(Either.isLeft(Schema.decodeEither(SyslogMessage.SyslogMessageFromString)("<13>1 - -"))).toBe(true)
  })
})
