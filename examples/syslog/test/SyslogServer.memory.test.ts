import { describe, expect, it } from "@effect/vitest"
import { Address, Connection, Datagram, MemoryDatagram, MemoryTransport, Transport } from "@wirekit/core"
import { Console, Effect, Fiber, Layer, Logger, TestClock } from "effect"
import * as SyslogServer from "../src/server/SyslogServer.ts"
import * as Counters from "../src/store/Counters.ts"
import * as OctetCounting from "../src/wire/OctetCounting.ts"
import { bytes, concat } from "./helpers.ts"

const PORT = 5514
const options: SyslogServer.SyslogOptions = {
  host: "127.0.0.1",
  udpPort: PORT,
  tcpPort: PORT,
  maxMessage: 512,
  statsInterval: 0
}

/** What the receiver printed (stdout lines) and logged (level and message). */
const capture = () => {
  const printed: Array<string> = []
  const logs: Array<string> = []
  const log = (...args: ReadonlyArray<unknown>) =>
    Effect.sync(() => {
      printed.push(...args.map(String).join(" ").split("\n"))
    })
  const logger = Logger.make(({ logLevel, message }) => {
    logs.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return {
    printed,
    logs,
    layer: Layer.merge(
      Layer.unwrapEffect(Effect.map(Effect.console, (console) => Console.setConsole({ ...console, log }))),
      Logger.replace(Logger.defaultLogger, logger)
    )
  }
}

/** Runs the receiver's layer in the test's scope on fresh memory networks; returns its counters. */
const start = (opts: SyslogServer.SyslogOptions = options) =>
  Effect.gen(function*() {
    const counters = Counters.make({ maxHosts: 2 })
    yield* Layer.buildWithScope(
      SyslogServer.layer(opts).pipe(Layer.provide(Layer.succeed(Counters.SyslogCounters, counters))),
      yield* Effect.scope
    )
    return counters
  })

/** Sends each payload as one datagram to the receiver. */
const sendUdp = (...payloads: ReadonlyArray<Uint8Array>) =>
  Effect.scoped(Effect.gen(function*() {
    const udp = yield* Datagram.DatagramTransport
    const socket = yield* udp.bind({ host: "127.0.0.1", port: 0 })
    for (const p of payloads) yield* socket.send(p, { host: "127.0.0.1", port: PORT })
  }))

/** One TCP connection: writes `chunks` one by one (a separate read each), ends, waits for the server's close. */
const sendTcp = (...chunks: ReadonlyArray<Uint8Array>) =>
  Effect.scoped(Effect.gen(function*() {
    const t = yield* Transport.Transport
    const c = yield* t.connect(Address.tcp("127.0.0.1", PORT))
    for (const chunk of chunks) {
      yield* c.write(chunk)
      yield* Effect.sleep("1 millis")
    }
    yield* c.end
    yield* Connection.readAll(c)
  }))

/** Waits (real time) until `check` holds, at most 2 seconds. */
const eventually = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !check(); i++) yield* Effect.sleep("10 millis")
    expect(check()).toBe(true)
  })

const networks = Layer.merge(MemoryTransport.layer(), MemoryDatagram.layer())

describe("SyslogServer over the memory transports", () => {
  it.scopedLive("prints one line per message from UDP and both TCP framings, and counts them per host", () => {
    const out = capture()
    return Effect.gen(function*() {
      const counters = yield* start()
      yield* sendUdp(
        bytes("<13>1 2003-10-11T22:14:15.003Z web1 nginx 42 - - GET /\n"),
        bytes("<34>Oct 11 22:14:15 db1 su[7]: 'su root' failed")
      )
      yield* eventually(() => counters.snapshot().messages === 2)
      const octets = concat(
        OctetCounting.frame(bytes("<165>1 - web1 app - - [a@1 k=\"v\"] two\nlines")),
        OctetCounting.frame(bytes("<0>1 - - kernel - - - panic"))
      )
      // octet counting cut in the middle of a length and of a message
      yield* sendTcp(octets.subarray(0, 1), octets.subarray(1, 30), octets.subarray(30))
      yield* sendTcp(bytes("<13>Dec  3 20:51:53 web1 cron: a\r\n<1"), bytes("5>1 - web2 - - - - b\n"))
      yield* eventually(() => counters.snapshot().messages === 6)
      expect(out.printed).toEqual(expect.arrayContaining([
        "web1 nginx[42] user.notice: GET /",
        "db1 su[7] auth.crit: 'su root' failed",
        "web1 app local4.notice: two\\nlines",
        "127.0.0.1 kernel kern.emerg: panic",
        "web1 cron user.notice: a",
        "web2 - user.debug: b"
      ]))
      expect(out.printed.length).toBe(6)
      const s = counters.snapshot()
      // maxHosts 2: web1 and db1 are tracked, 127.0.0.1 and web2 are counted together
      expect(s.hosts).toEqual([["web1", 3], ["db1", 1]])
      expect(s.otherHosts).toBe(2)
      expect(s.byTransport).toEqual({ udp: 2, tcp: 4 })
      expect(s.malformed).toBe(0)
      expect(out.logs.filter((l) => l.startsWith("WARN"))).toEqual([])
    }).pipe(Effect.provide(Layer.merge(networks, out.layer)))
  })

  it.scopedLive("a burst of 2,000 datagrams and 2,000 pipelined TCP messages: every one printed and counted", () => {
    const out = capture()
    return Effect.gen(function*() {
      const counters = yield* start()
      const n = 2000
      const datagrams = Array.from({ length: n }, (_, i) => bytes(`<14>1 - burst app - - - udp ${i}`))
      yield* Effect.all([
        sendUdp(...datagrams),
        sendTcp(
          concat(...Array.from({ length: n }, (_, i) => OctetCounting.frame(bytes(`<14>1 - burst app - - - tcp ${i}`))))
        )
      ], { concurrency: 2 })
      yield* eventually(() => counters.snapshot().messages === 2 * n)
      expect(counters.snapshot().byTransport).toEqual({ udp: n, tcp: n })
      expect(out.printed.length).toBe(2 * n)
      expect(new Set(out.printed).size).toBe(2 * n)
      expect(out.printed.filter((l) => l.startsWith("burst app user.info: ")).length).toBe(2 * n)
    }).pipe(Effect.provide(Layer.merge(networks, out.layer)))
  })

  it.scopedLive("malformed input on either transport is counted per reason and logged; the receiver keeps serving", () => {
    const out = capture()
    return Effect.gen(function*() {
      const counters = yield* start()
      yield* sendUdp(
        Uint8Array.of(0, 0xff, 0xfe, 0x01),
        bytes("<999>1 - - - - - -"),
        bytes("<13>1 - - -"),
        new Uint8Array(513).fill(0x41),
        new Uint8Array(0)
      )
      yield* eventually(() => counters.snapshot().malformed === 5)
      // TCP lines: garbage and a truncated header between two good messages, on one connection
      yield* sendTcp(bytes("<13>1 - h1 - - - - ok1\n\u0001\u0002garbage\n<13>Oct 11\n<13>1 - h1 - - - - ok2\n"))
      yield* eventually(() => counters.snapshot().malformed === 7 && counters.snapshot().messages === 2)
      // an oversized MSG-LEN closes (refused at its 3rd digit) that connection only (its earlier message is kept)
      yield* sendTcp(concat(OctetCounting.frame(bytes("<13>1 - h2 - - - - before")), bytes("99999 <13>1 ")))
      yield* sendTcp(bytes(`<13>1 - h2 - - - - ${"x".repeat(600)}\n`))
      yield* eventually(() => counters.snapshot().framingErrors === 2)
      yield* sendUdp(bytes("<13>1 - h3 - - - - after"))
      yield* eventually(() => counters.snapshot().messages === 4)
      const s = counters.snapshot()
      expect(s.malformedByReason).toEqual({
        BadPriority: 3,
        TruncatedHeader: 2,
        TooLarge: 1,
        Empty: 1
      })
      expect(out.printed).toEqual([
        "h1 - user.notice: ok1",
        "h1 - user.notice: ok2",
        "h2 - user.notice: before",
        "h3 - user.notice: after"
      ])
      const warnings = out.logs.filter((l) => l.startsWith("WARN"))
      expect(warnings).toEqual(expect.arrayContaining([
        expect.stringMatching(
          /^WARN malformed udp message from 127\.0\.0\.1:\d+: BadPriority: the message starts with byte 0x00/
        ),
        expect.stringMatching(/^WARN malformed udp message from .*: TooLarge: 513 bytes, limit 512$/),
        expect.stringMatching(/^WARN malformed tcp message from .*: TruncatedHeader: /),
        expect.stringMatching(
          /^WARN closing the TCP connection from .*: OctetCounting: frame too large: 999 bytes, limit 512/
        ),
        expect.stringMatching(/^WARN closing the TCP connection from .*: Lines: frame too large/)
      ]))
      expect(warnings.length).toBe(9)
      expect(out.logs.join("\n")).not.toMatch(/\bat .*\.ts:\d+/) // no stack traces
    }).pipe(Effect.provide(Layer.merge(networks, out.layer)))
  })

  it.scopedLive("a flood of garbage logs at most warningsPerSecond warnings, then says how many it left out", () => {
    const out = capture()
    return Effect.gen(function*() {
      const counters = yield* start({ ...options, warningsPerSecond: 10 })
      yield* sendUdp(...Array.from({ length: 300 }, () => bytes("garbage")))
      yield* eventually(() => counters.snapshot().malformed === 300)
      const warnings = () => out.logs.filter((l) => l.startsWith("WARN"))
      expect(warnings().length).toBe(10)
      yield* Effect.sleep("1100 millis")
      yield* sendUdp(bytes("more garbage"))
      yield* eventually(() => warnings().length === 12)
      expect(warnings().slice(10)).toEqual([
        "WARN 290 more malformed-input warnings were not logged (over 10 per second; all are counted)",
        expect.stringMatching(/^WARN malformed udp message from .*: BadPriority: the message starts with 'm'/)
      ])
      expect(counters.snapshot().malformedByReason).toEqual({ BadPriority: 301 })
    }).pipe(Effect.provide(Layer.merge(networks, out.layer)))
  })

  it.scoped("logs the counters every statsInterval on the Clock, and once more at shutdown", () => {
    const out = capture()
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        yield* start({ ...options, statsInterval: "10 seconds" })
        yield* Effect.never
      })))
      yield* TestClock.adjust("1 second")
      expect(out.logs.filter((l) => l.includes("counters:"))).toEqual([])
      yield* TestClock.adjust("9 seconds")
      yield* TestClock.adjust("20 seconds")
      expect(out.logs.filter((l) => l.includes("counters:")).length).toBe(3)
      yield* Fiber.interrupt(fiber)
      const counted = out.logs.filter((l) => l.includes("counters:"))
      expect(counted.length).toBe(4)
      expect(counted[3]).toBe(
        "INFO counters: 0 messages (udp 0, tcp 0) from 0 hosts; 0 malformed; 0 connections closed on framing errors"
      )
      expect(out.logs.at(-1)).toBe("INFO syslog: receiver stopped")
      expect(out.logs).toEqual(expect.arrayContaining([
        "INFO syslog: listening on 127.0.0.1:5514 (udp)",
        "INFO syslog: listening on 127.0.0.1:5514 (tcp, octet counting or newline framing)"
      ]))
    }).pipe(Effect.provide(Layer.merge(networks, out.layer)))
  })
})
