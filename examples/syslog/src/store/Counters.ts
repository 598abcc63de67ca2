/**
 * What the receiver counts: messages per host and per transport, malformed
 * input per reason, connections closed on framing errors. Bounded: at most
 * `maxHosts` hosts are tracked by name; messages from hosts past them are
 * counted together (`otherHosts`), so a sender that invents a hostname per
 * message cannot grow the table.
 *
 * Updated synchronously from the transports' read callbacks; one instance
 * per process (with `--workers N`, each worker counts its own share).
 */
import { Context, Effect, Layer } from "effect"
import type { ParseErrorReason } from "../syslog/SyslogMessage.ts"

/** The transports a message arrives on. */
export type Via = "udp" | "tcp"

/** Default {@link CountersOptions.maxHosts}. */
export const DEFAULT_MAX_HOSTS = 1000

/** Options of {@link make}. */
export interface CountersOptions {
  /** Most hosts tracked by name (default {@link DEFAULT_MAX_HOSTS}). */
  readonly maxHosts?: number | undefined
}

/** The counters at one moment. */
export interface Snapshot {
  readonly messages: number
  readonly byTransport: Readonly<Record<Via, number>>
  /** Tracked hosts and their message counts, most messages first. */
  readonly hosts: ReadonlyArray<readonly [host: string, messages: number]>
  /** Messages from hosts past the first `maxHosts`. */
  readonly otherHosts: number
  readonly malformed: number
  readonly malformedByReason: Readonly<Partial<Record<ParseErrorReason, number>>>
  /** TCP connections closed because their framing was broken or a message too long. */
  readonly framingErrors: number
}

/** The counters (see the module docs). */
export interface Counters {
  /** A message from `host` (its HOSTNAME, or the peer's address when it has none). */
  readonly message: (host: string, via: Via) => void
  /** Input that is not a syslog message. */
  readonly malformed: (reason: ParseErrorReason) => void
  /** A TCP connection closed on a framing error. */
  readonly framingError: () => void
  readonly snapshot: () => Snapshot
}

/** Fresh counters. */
export const make = (options: CountersOptions = {}): Counters => {
  const maxHosts = options.maxHosts ?? DEFAULT_MAX_HOSTS
  if (!Number.isInteger(maxHosts) || maxHosts < 0) {
    throw new RangeError(`maxHosts must be an integer >= 0 (got ${maxHosts})`)
  }
  const hosts = new Map<string, number>()
  const byTransport: Record<Via, number> = { udp: 0, tcp: 0 }
  const malformedByReason: Partial<Record<ParseErrorReason, number>> = {}
  let messages = 0
  let otherHosts = 0
  let malformed = 0
  let framingErrors = 0
  return {
    message: (host, via) => {
      messages++
      byTransport[via]++
      const n = hosts.get(host)
      if (n !== undefined) hosts.set(host, n + 1)
      else if (hosts.size < maxHosts) hosts.set(host, 1)
      else otherHosts++
    },
    malformed: (reason) => {
      malformed++
      malformedByReason[reason] = (malformedByReason[reason] ?? 0) + 1
    },
    framingError: () => {
      framingErrors++
    },
    snapshot: () => ({
      messages,
      byTransport: { ...byTransport },
      hosts: [...hosts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
      otherHosts,
      malformed,
      malformedByReason: { ...malformedByReason },
      framingErrors
    })
  }
}

/** The process's counters as a service. */
export class SyslogCounters extends Context.Tag("@wirekit/example-syslog/Counters")<SyslogCounters, Counters>() {}

/** Fresh counters as a Layer. */
export const layer = (options?: CountersOptions): Layer.Layer<SyslogCounters> =>
  Layer.sync(SyslogCounters, () => make(options))

/** Hosts listed in a summary line; the rest are summed up. */
const LISTED_HOSTS = 20

/**
 * One line for the log:
 * `12 messages (udp 5, tcp 7) from 2 hosts: vm 10, db1 2; 3 malformed (BadPriority 2, TruncatedHeader 1); 1 connection closed on framing errors`
 */
export const summary = (s: Snapshot): string => {
  const listed = s.hosts.slice(0, LISTED_HOSTS).map(([h, n]) => `${h} ${n}`)
  if (s.hosts.length > LISTED_HOSTS) {
    const rest = s.hosts.slice(LISTED_HOSTS).reduce((sum, [, n]) => sum + n, 0)
    listed.push(`${s.hosts.length - LISTED_HOSTS} more hosts ${rest}`)
  }
  if (s.otherHosts > 0) listed.push(`untracked hosts ${s.otherHosts}`)
  const reasons = Object.entries(s.malformedByReason).map(([r, n]) => `${r} ${n}`)
  return `${s.messages} messages (udp ${s.byTransport.udp}, tcp ${s.byTransport.tcp}) from ${s.hosts.length} hosts${
    listed.length > 0 ? `: ${listed.join(", ")}` : ""
  }; ${s.malformed} malformed${reasons.length > 0 ? ` (${reasons.join(", ")})` : ""}; ${s.framingErrors} ${
    s.framingErrors === 1 ? "connection" : "connections"
  } closed on framing errors`
}

/** Logs the counters' summary at Info. */
export const log: Effect.Effect<void, never, SyslogCounters> = Effect.flatMap(
  SyslogCounters,
  (counters) => Effect.logInfo(`counters: ${summary(counters.snapshot())}`)
)
