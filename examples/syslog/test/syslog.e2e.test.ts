/**
 * The syslog example as a real process on each runtime, fed by util-linux
 * `logger` (a client nobody here wrote) over UDP and TCP, in both formats and
 * both TCP framings, and by raw sockets sending malformed input.
 */
import { execFile, spawn } from "node:child_process"
import type { ChildProcessByStdio } from "node:child_process"
import * as Dgram from "node:dgram"
import * as Net from "node:net"
import type { Readable } from "node:stream"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { runExample } from "../../../scripts/example-process.ts"
import { externalProgram } from "../../../scripts/external-program.ts"
import { commandFor, root } from "../../../scripts/runtimes.mjs"

const run = promisify(execFile)

/** util-linux logger (Debian's bsdutils): the tests that run it skip themselves where it is missing (never on CI). */
const loggerProgram = externalProgram("logger", "bsdutils")

/** Runtimes whose entry point serves UDP (the others serve TCP and say why not UDP). */
const servesUdp: Record<string, boolean> = { node: true, bun: true, deno: true }

interface Receiver {
  /** True once the process exited. */
  readonly gone: () => boolean
  readonly child: ChildProcessByStdio<null, Readable, Readable>
  readonly output: () => string
  /** The TCP port from the listening line (60 s limit). */
  readonly tcpPort: () => Promise<number>
  /** The UDP port from the listening line (60 s limit). */
  readonly udpPort: () => Promise<number>
  readonly exited: Promise<number | null>
}

/** Starts the example on `runtime` on free ports, counters logged at shutdown only. */
const start = (runtime: string, args: ReadonlyArray<string> = []): Receiver => {
  const [cmd, argv] = commandFor("syslog", runtime, [
    "--udp-port",
    "0",
    "--tcp-port",
    "0",
    "--stats-interval",
    "0",
    ...args
  ])
  const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  const waiters: Array<() => void> = []
  const onData = (d: Buffer) => {
    output += d.toString()
    for (const w of waiters.splice(0)) w()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  let gone = false
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      gone = true
      for (const w of waiters.splice(0)) w()
      resolve(code)
    })
  )
  const port = (pattern: RegExp) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${output}`)), 60_000)
      const check = () => {
        const m = pattern.exec(output)
        if (m) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        } else if (gone) {
          clearTimeout(timer)
          reject(new Error(`the receiver exited before ${pattern}: ${output}`))
        } else waiters.push(check)
      }
      check()
    })
  return {
    gone: () => gone,
    child,
    output: () => output,
    tcpPort: () => port(/syslog: listening on 127\.0\.0\.1:(\d+) \(tcp/),
    udpPort: () => port(/syslog: listening on 127\.0\.0\.1:(\d+) \(udp\)/),
    exited
  }
}

/** Waits until `check` holds (polling), failing with `what` and the output after `ms`. */
const until = async (r: Receiver, what: string, check: (output: string) => boolean, ms = 15_000) => {
  const deadline = Date.now() + ms
  while (!check(r.output())) {
    if (r.gone()) throw new Error(`the receiver exited while waiting for ${what}; output:\n${r.output()}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${r.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** util-linux logger to 127.0.0.1:`port` with `args`, optionally with lines on stdin. */
const logger = (port: number, args: ReadonlyArray<string>, stdin?: string) => {
  const argv = ["-n", "127.0.0.1", "-P", String(port), ...args]
  if (stdin === undefined) return run("logger", argv)
  return new Promise<void>((resolve, reject) => {
    const child = execFile("logger", argv, (error) => (error ? reject(error) : resolve()))
    child.stdin!.end(stdin)
  })
}

/** One TCP connection that writes `payload`, ends, and waits for the close. */
const tcpSend = (port: number, payload: Uint8Array) =>
  new Promise<void>((resolve) => {
    const s = Net.connect({ host: "127.0.0.1", port }, () => s.end(payload))
    s.on("error", () => resolve())
    s.on("close", () => resolve())
    s.resume()
  })

/** Sends each payload as one UDP datagram. */
const udpSend = async (port: number, payloads: ReadonlyArray<Uint8Array>) => {
  const socket = Dgram.createSocket("udp4")
  for (const p of payloads) {
    await new Promise<void>((resolve, reject) => socket.send(p, port, "127.0.0.1", (e) => (e ? reject(e) : resolve())))
  }
  socket.close()
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
/** A printed message line: `HOST APP[PID] FACILITY.SEVERITY: MESSAGE`. */
const printed = (app: string, level: string, message: string) =>
  new RegExp(`^\\S+ ${escape(app)} ${escape(level)}: ${escape(message)}$`, "m")

describe.each(["node", "bun", "deno"])("examples/syslog on %s, fed by util-linux logger", (runtime) => {
  const udp = servesUdp[runtime]!
  it.skipIf(loggerProgram.skip)(
    loggerProgram.title(
      `prints and counts logger's messages (${
        udp ? "UDP and " : ""
      }TCP, RFC 5424 and 3164, octet counting and newlines); malformed input is counted and logged; SIGINT exits 0`
    ),
    async () => {
      const r = start(runtime)
      const tcp = await r.tcpPort()
      const expected: Array<RegExp> = []
      let messages = 0
      if (udp) {
        const port = await r.udpPort()
        await logger(port, [
          "-d",
          "--rfc5424",
          "-t",
          "e2e-app",
          "--msgid",
          "ID47",
          "--sd-id",
          "ex@32473",
          "--sd-param",
          "k=\"v\"",
          "-p",
          "local4.notice",
          `udp 5424 ${runtime}`
        ])
        await logger(port, ["-d", "--rfc3164", "-t", "e2e-app", "-i", "-p", "daemon.err", `udp 3164 ${runtime}`])
        expected.push(
          printed("e2e-app", "local4.notice", `udp 5424 ${runtime}`),
          new RegExp(`^\\S+ e2e-app\\[\\d+\\] daemon\\.err: udp 3164 ${runtime}$`, "m")
        )
        messages += 2
        await udpSend(port, [
          Uint8Array.of(0, 0xff, 0xfe, 0x7f, 0x3c),
          Buffer.from("<13>Oct 11 22:14"),
          Buffer.alloc(9000, 0x41)
        ])
      } else {
        await until(r, "the UDP warning", (o) => /UDP is not served on \w+ yet .*; TCP only/.test(o))
      }
      await logger(tcp, [
        "-T",
        "--octet-count",
        "--rfc5424",
        "-t",
        "e2e-app",
        "-p",
        "user.warning",
        `tcp octets ${runtime}`
      ])
      await logger(tcp, ["-T", "--rfc3164", "-t", "e2e-app", "-p", "mail.info", `tcp newline 3164 ${runtime}`])
      await logger(tcp, ["-T", "--rfc5424", "-t", "e2e-app", "-p", "cron.debug", `tcp newline 5424 ${runtime}`])
      // two lines on stdin: two messages on one octet-counted connection
      await logger(tcp, ["-T", "--octet-count", "--rfc3164", "-t", "e2e-app"], `first ${runtime}\nsecond ${runtime}\n`)
      expected.push(
        printed("e2e-app", "user.warning", `tcp octets ${runtime}`),
        printed("e2e-app", "mail.info", `tcp newline 3164 ${runtime}`),
        printed("e2e-app", "cron.debug", `tcp newline 5424 ${runtime}`),
        printed("e2e-app", "user.notice", `first ${runtime}`),
        printed("e2e-app", "user.notice", `second ${runtime}`)
      )
      messages += 5
      // malformed lines between good ones on one connection, then two connections whose framing breaks
      await tcpSend(
        tcp,
        Buffer.from(`\u0000\u00ff garbage\n<999>1 - - - - - -\n<13>1 - -\n<13>1 - h9 raw - - - after ${runtime}\n`)
      )
      await tcpSend(tcp, Buffer.from("99999999 <13>1 - - - - - -"))
      await tcpSend(tcp, Buffer.from("50 <13>1 - - - - - truncated"))
      expected.push(printed("raw", "user.notice", `after ${runtime}`))
      messages += 1
      for (const line of expected) await until(r, String(line), (o) => line.test(o))
      const malformed = udp ? 6 : 3
      await until(r, "the framing errors", (o) => (o.match(/closing the TCP connection from/g) ?? []).length === 2)
      await until(
        r,
        "the malformed warnings",
        (o) => (o.match(/malformed (udp|tcp) message from/g) ?? []).length === malformed
      )
      r.child.kill("SIGINT")
      expect(await r.exited).toBe(0)
      const out = r.output()
      expect(out).toMatch(/malformed tcp message from 127\.0\.0\.1:\d+: BadPriority: the message starts with byte 0x00/)
      expect(out).toMatch(/malformed tcp message from .*: BadPriority: priority: PRIVAL must be from 0 to 191/)
      expect(out).toMatch(/malformed tcp message from .*: TruncatedHeader: /)
      expect(out).toMatch(/closing the TCP connection from .*: OctetCounting: frame too large: \d+ bytes, limit 8192/)
      expect(out).toMatch(
        /closing the TCP connection from .*: OctetCounting: stream ended inside a frame \(\d+ bytes buffered\)/
      )
      if (udp) {
        expect(out).toMatch(/malformed udp message from .*: TooLarge: 9000 bytes, limit 8192/)
        expect(out).toMatch(/malformed udp message from .*: TruncatedHeader: /)
      }
      // the counters at shutdown, then the shut-down line; no stack traces anywhere
      const final =
        /counters: (\d+) messages \(udp (\d+), tcp (\d+)\) from \d+ hosts: .*; (\d+) malformed \((.*)\); 2 connections closed on framing errors/
          .exec(out)
      expect(final).not.toBeNull()
      expect(final!.slice(1, 5).map(Number)).toEqual([messages, udp ? 2 : 0, udp ? messages - 2 : messages, malformed])
      const reasons = Object.fromEntries(final![5]!.split(", ").map((p) => [p.split(" ")[0], Number(p.split(" ")[1])]))
      expect(reasons).toEqual(
        udp ? { BadPriority: 3, TruncatedHeader: 2, TooLarge: 1 } : { BadPriority: 2, TruncatedHeader: 1 }
      )
      expect(out).toMatch(/syslog: receiver stopped[\s\S]*syslog: shut down/)
      expect(out).not.toMatch(/\n\s+at .*:\d+:\d+/)
    },
    60_000
  )
})

describe.each(["node", "bun", "deno"])("examples/syslog on %s with --workers 2", (runtime) => {
  it.skipIf(loggerProgram.skip)(
    loggerProgram.title("every message reaches one worker; SIGINT drains both (each logs its counters) and exits 0"),
    async () => {
      const r = start(runtime, ["--workers", "2"])
      await until(
        r,
        "two workers listening",
        (o) => (o.match(/syslog: listening on \S+ \(tcp/g) ?? []).length === 2,
        60_000
      )
      const [tcp, udp] = await Promise.all([r.tcpPort(), r.udpPort()])
      const sends: Array<Promise<unknown>> = []
      for (let i = 1; i <= 6; i++) {
        sends.push(logger(tcp, ["-T", "--octet-count", "--rfc5424", "-t", "w", `tcp ${i} ${runtime}`]))
      }
      for (let i = 1; i <= 3; i++) sends.push(logger(udp, ["-d", "--rfc5424", "-t", "w", `udp ${i} ${runtime}`]))
      await Promise.all(sends)
      for (const m of ["tcp 1", "tcp 2", "tcp 3", "tcp 4", "tcp 5", "tcp 6", "udp 1", "udp 2", "udp 3"]) {
        const line = printed("w", "user.notice", `${m} ${runtime}`)
        await until(r, String(line), (o) => line.test(o))
      }
      if (runtime !== "node") {
        // Bun and Deno workers share TCP ports only: worker 1 alone binds UDP
        expect(r.output()).toMatch(/UDP is served by worker 1/)
      }
      r.child.kill("SIGINT")
      expect(await r.exited).toBe(0)
      const counted = [...r.output().matchAll(/counters: (\d+) messages \(udp (\d+), tcp (\d+)\)/g)]
        .map((m) => [Number(m[1]), Number(m[2]), Number(m[3])])
      expect(counted.length).toBe(2)
      expect(counted.reduce((a, b) => a.map((x, i) => x + b[i]!))).toEqual([9, 3, 6])
      expect(r.output()).toMatch(/syslog: shut down/)
    },
    90_000
  )
})

describe("examples/syslog flags", () => {
  it.each(["node", "bun", "deno"])(
    "on %s, a bad value or an unknown flag exits 2 with the usage, before listening",
    async (runtime) => {
      const [port, unknown] = await Promise.all([
        runExample("syslog", runtime, ["--udp-port", "70000"]),
        runExample("syslog", runtime, ["--tcp-port", "0", "--bogus"])
      ])
      for (const r of [port, unknown]) {
        expect(r.code).toBe(2)
        expect(r.stdout + r.stderr).not.toMatch(/listening on/)
        expect(r.stderr).toMatch(/usage: syslog .*--udp-port/s)
      }
      expect(port.stderr).toMatch(/--udp-port must be an integer from 0 to 65535 \(got 70000\)/)
      expect(unknown.stderr).toMatch(/bogus/)
    },
    60_000
  )
})
