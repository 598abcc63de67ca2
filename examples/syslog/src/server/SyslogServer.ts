/**
 * The syslog receiver, written once against `@wirekit/core` only: syslog
 * over UDP (one message per datagram, RFC 5426) and over TCP (RFC 6587,
 * octet counting or newline framing, told apart per connection), on the same
 * port number. Every message is parsed (RFC 5424 or RFC 3164), printed as one
 * line and counted per host; what is not a message is counted per reason and
 * logged at Warning (at most `warningsPerSecond` lines per second per
 * transport), and only a TCP connection whose framing breaks (or that
 * sends a message over `maxMessage`) is closed, never the receiver.
 *
 * ```
 *   UDP datagram ─────────────────────────────┐
 *   TCP bytes ─▶ TcpFraming (octets | lines) ──┴─▶ SyslogMessage.parse ─▶ print + Counters
 *                                                      └─ SyslogParseError ─▶ log + Counters
 * ```
 */
import { Address, Connection, Datagram, Framed, Server, Workers } from "@wirekit/core"
import type { Framing, Transport } from "@wirekit/core"
import { Clock, Console, Duration, Effect, Either, Layer, Option } from "effect"
import type { Scope } from "effect"
import * as Counters from "../store/Counters.ts"
import * as SyslogMessage from "../syslog/SyslogMessage.ts"
import * as TcpFraming from "../wire/TcpFraming.ts"
import { LogLimiter } from "./LogLimiter.ts"

/** Default `--max-message`: what RFC 5425 says receivers should take (they must take 2048 bytes). */
export const DEFAULT_MAX_MESSAGE = 8192

/** Options of the receiver. */
export interface SyslogOptions {
  readonly host: string
  /** UDP port; 0: any free port. */
  readonly udpPort: number
  /** TCP port; 0: any free port. */
  readonly tcpPort: number
  /** Largest message in bytes, on either transport. */
  readonly maxMessage: number
  /** How often the counters are logged; zero: only at shutdown. */
  readonly statsInterval: Duration.DurationInput
  /**
   * Under `--workers N`, which workers bind the UDP port: `"every"` where
   * the runtime shares a UDP socket between processes (Node's cluster),
   * `"first"` where workers share only TCP ports (Bun, Deno: each would
   * need its own socket on the port). Default `"every"`.
   */
  readonly udpWorkers?: "every" | "first" | undefined
  /**
   * Malformed-input warnings logged per second, per transport, at most
   * (the others are counted, and summed up in the next line logged).
   * Default {@link DEFAULT_WARNINGS_PER_SECOND}.
   */
  readonly warningsPerSecond?: number | undefined
}

/** Default {@link SyslogOptions.warningsPerSecond}. */
export const DEFAULT_WARNINGS_PER_SECOND = 100

/** A fresh limiter for one transport's warnings. */
const limiterOf = (options: SyslogOptions) => new LogLimiter(options.warningsPerSecond ?? DEFAULT_WARNINGS_PER_SECOND)

/** Line ends and NULs some senders append to a message: not part of it. */
const trimTrailer = (bytes: Uint8Array): Uint8Array => {
  let end = bytes.length
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x00)) end--
  return end === bytes.length ? bytes : bytes.subarray(0, end)
}

/** Control characters escaped, so that a message is one line of output whatever it holds. */
const oneLine = (text: string): string =>
  text.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === "\n"
      ? "\\n"
      : c === "\r"
      ? "\\r"
      : c === "\t"
      ? "\\t"
      : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)

/**
 * A message as one line of output:
 * `HOST APP[PROCID] FACILITY.SEVERITY: MESSAGE` (`-` for what it lacks).
 */
export const line = (m: SyslogMessage.SyslogMessage, peerHost: string): string =>
  `${m.hostname ?? peerHost} ${m.appName ?? "-"}${
    m.procId === null ? "" : `[${m.procId}]`
  } ${m.facility}.${m.severity}: ${oneLine(m.message)}`

/** What one batch of received messages produced: lines to print, problems to log. */
class Batch {
  readonly lines: Array<string> = []
  readonly warnings: Array<string> = []

  constructor(private readonly counters: Counters.Counters, private readonly maxMessage: number) {}

  /** One message from `peerHost` (`peer` with its port, for the log). */
  add(bytes: Uint8Array, via: Counters.Via, peer: string, peerHost: string): void {
    if (bytes.length > this.maxMessage) {
      this.counters.malformed("TooLarge")
      this.warnings.push(
        `malformed ${via} message from ${peer}: TooLarge: ${bytes.length} bytes, limit ${this.maxMessage}`
      )
      return
    }
    const parsed = SyslogMessage.parse(trimTrailer(bytes))
    if (Either.isLeft(parsed)) {
      this.counters.malformed(parsed.left.reason)
      this.warnings.push(`malformed ${via} message from ${peer}: ${parsed.left.message}`)
      return
    }
    const m = parsed.right
    this.counters.message(m.hostname ?? peerHost, via)
    this.lines.push(line(m, peerHost))
  }

  /** Prints the lines (one write) and logs the warnings the limiter allows; `undefined` when there is nothing to do. */
  flush(limiter: LogLimiter): Effect.Effect<void> | undefined {
    const lines = this.lines.length === 0 ? undefined : Console.log(this.lines.join("\n"))
    const found = this.warnings
    const warnings = found.length === 0 ? undefined : Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const { allowed, suppressedBefore } = limiter.take(now, found.length)
      const logged = allowed === found.length ? found : found.slice(0, allowed)
      return Effect.forEach(
        suppressedBefore > 0
          ? [
            `${suppressedBefore} more malformed-input warnings were not logged (over ${limiter.perSecond} per second; all are counted)`,
            ...logged
          ]
          : logged,
        (w) => Effect.logWarning(w),
        { discard: true }
      )
    })
    return lines === undefined ? warnings : warnings === undefined ? lines : Effect.zipRight(lines, warnings)
  }
}

/** One TCP connection: frames in, messages printed; a framing error closes it (logged, counted). */
const tcpHandler = (
  framing: Framing.Framing,
  counters: Counters.Counters,
  maxMessage: number,
  limiter: LogLimiter
) =>
  Effect.gen(function*() {
    const conn = yield* Connection.Connection
    const peer = Address.format(conn.remoteAddress)
    const peerHost = Address.isTcp(conn.remoteAddress) ? conn.remoteAddress.host : peer
    const framed = Framed.make(conn, framing)
    yield* framed.pump((frames) => {
      const batch = new Batch(counters, maxMessage)
      for (const frame of frames) batch.add(frame, "tcp", peer, peerHost)
      return batch.flush(limiter)
    }).pipe(
      Effect.catchTag("FramingError", (error) => {
        counters.framingError()
        return Effect.logWarning(`closing the TCP connection from ${peer}: ${error.message}`)
      })
    )
  })

/** Receives datagrams until the socket closes: one message each. */
const udpReceiver = (
  socket: Datagram.DatagramSocket,
  counters: Counters.Counters,
  maxMessage: number,
  limiter: LogLimiter
) =>
  socket.pump((datagrams) => {
    const batch = new Batch(counters, maxMessage)
    for (const d of datagrams) batch.add(d.data, "udp", Address.format(d.from), d.from.host)
    return batch.flush(limiter)
  })

/** Logs the counters every `every` (by Effect's Clock), forever. */
const periodicReport = (every: Duration.Duration) => Effect.forever(Effect.zipRight(Effect.sleep(every), Counters.log))

/** Binds the UDP socket and receives on it until the scope closes; logs `syslog: listening on HOST:PORT (udp)`. */
export const listenUdp = (
  options: SyslogOptions
): Effect.Effect<void, Datagram.DatagramError, Scope.Scope | Counters.SyslogCounters | Datagram.DatagramTransport> =>
  Effect.gen(function*() {
    const worker = Option.getOrElse(yield* Effect.serviceOption(Workers.WorkerInfo), () => Workers.single)
    if (options.udpWorkers === "first" && worker.id !== 1) {
      return yield* Effect.logInfo(
        `syslog: UDP is served by worker 1 (on this runtime workers share TCP ports, not UDP sockets)`
      )
    }
    const counters = yield* Counters.SyslogCounters
    const udp = yield* Datagram.DatagramTransport
    const socket = yield* udp.bind({ host: options.host, port: options.udpPort })
    yield* Effect.forkScoped(udpReceiver(socket, counters, options.maxMessage, limiterOf(options)))
    yield* Effect.logInfo(`syslog: listening on ${Address.format(socket.address)} (udp)`)
  })

/** Listens on TCP and serves until the scope closes; logs `syslog: listening on HOST:PORT (tcp, ...)`. */
export const listenTcp = (
  options: SyslogOptions
): Effect.Effect<void, Transport.ListenError, Scope.Scope | Counters.SyslogCounters | Transport.Transport> =>
  Effect.gen(function*() {
    const counters = yield* Counters.SyslogCounters
    const framing = TcpFraming.make({ maxLength: options.maxMessage })
    const server = yield* Server.listen(
      Address.tcp(options.host, options.tcpPort),
      tcpHandler(framing, counters, options.maxMessage, limiterOf(options))
    )
    yield* Effect.logInfo(
      `syslog: listening on ${Address.format(server.address)} (tcp, octet counting or newline framing)`
    )
  })

/**
 * Counters logged every `statsInterval` while the scope is open, and once
 * more when it closes, after what `listeners` opened in it is closed.
 */
const reporting = <E, R>(options: SyslogOptions, listeners: Effect.Effect<void, E, R>) =>
  Effect.gen(function*() {
    // the first finalizer added runs last: the final counters come after the sockets are closed
    yield* Effect.addFinalizer(() => Effect.zipRight(Counters.log, Effect.logInfo("syslog: receiver stopped")))
    yield* listeners
    const every = Duration.decode(options.statsInterval)
    if (Duration.isFinite(every) && Duration.greaterThan(every, Duration.zero)) {
      yield* Effect.forkScoped(periodicReport(every))
    }
  })

/**
 * The receiver as a Layer: UDP and TCP on their ports (see
 * {@link listenUdp}, {@link listenTcp}), the counters logged every
 * `statsInterval` and when it is released.
 */
export const layer = (
  options: SyslogOptions
): Layer.Layer<
  never,
  Datagram.DatagramError | Transport.ListenError,
  Counters.SyslogCounters | Datagram.DatagramTransport | Transport.Transport
> => Layer.scopedDiscard(reporting(options, Effect.zipRight(listenUdp(options), listenTcp(options))))
