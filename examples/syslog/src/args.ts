/**
 * The syslog example's command line (the same on every runtime): `--host`
 * and `--workers` shared with the other examples (`ExampleFlags` in
 * examples/common), and its own ports and limits. A refused flag exits with
 * status 2 and the usage (see `ExampleCli.run`).
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import { Duration } from "effect"
import type { Effect } from "effect"
import type { SyslogOptions } from "./server/SyslogServer.ts"
import { DEFAULT_MAX_MESSAGE } from "./server/SyslogServer.ts"
import * as Counters from "./store/Counters.ts"

/** What the receiver is started with. */
export interface SyslogFlags extends SyslogOptions {
  /** Processes serving the ports (1: this one). */
  readonly workers: number
  /** Most hosts counted by name. */
  readonly maxHosts: number
}

/** Default port of both transports (514 needs privileges). */
export const DEFAULT_PORT = 5514

const port = (name: string, what: string) =>
  ExampleFlags.integer(name, { min: 0, max: 65535, pseudoName: "PORT" }).pipe(
    Options.withDescription(`The ${what} port; default ${DEFAULT_PORT} (0: any free port).`),
    Options.withDefault(DEFAULT_PORT)
  )

/** The largest message accepted: a UDP datagram cannot be larger than 65507 bytes. */
const maxMessage = ExampleFlags.integer("max-message", { min: 480, max: 65507, pseudoName: "BYTES" }).pipe(
  Options.withDescription(
    `The largest message in bytes, on either transport (a longer one is counted as malformed; over TCP it closes its connection); default ${DEFAULT_MAX_MESSAGE}.`
  ),
  Options.withDefault(DEFAULT_MAX_MESSAGE)
)

const maxHosts = ExampleFlags.integer("max-hosts", { min: 0, max: 1_000_000 }).pipe(
  Options.withDescription(
    `Hosts counted by name; messages from further hosts are counted together; default ${Counters.DEFAULT_MAX_HOSTS}.`
  ),
  Options.withDefault(Counters.DEFAULT_MAX_HOSTS)
)

const statsInterval = ExampleFlags.integer("stats-interval", { min: 0, max: 86_400, pseudoName: "SECONDS" }).pipe(
  Options.withDescription("Log the counters every SECONDS (0: only at shutdown); default 60."),
  Options.withDefault(60)
)

/**
 * Runs the receiver from this process's arguments on `platform`; `serve`
 * is the runtime's part (transports, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (flags: SyslogFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "syslog",
      {
        host: ExampleFlags.host,
        udpPort: port("udp-port", "UDP"),
        tcpPort: port("tcp-port", "TCP"),
        maxMessage,
        maxHosts,
        statsInterval,
        workers: ExampleFlags.workers
      },
      (flags) =>
        ExampleCli.serve(
          "syslog",
          { host: flags.host, port: flags.tcpPort, workers: flags.workers, tls: undefined, proxyProtocol: undefined },
          serve({ ...flags, statsInterval: Duration.seconds(flags.statsInterval) })
        )
    ).pipe(
      Command.withDescription(
        "Receives syslog messages (RFC 5424 and RFC 3164) over UDP and TCP (RFC 6587: octet counting or newline framing), prints one line per message and counts them per host."
      )
    ),
    platform,
    { name: "syslog" }
  )
