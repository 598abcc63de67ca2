/** Command-line flags of the echo example (the same on every runtime). */
import { parseArgs } from "node:util"
import * as ExampleProxy from "../../../scripts/example-proxy.ts"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as ExampleWorkers from "../../../scripts/example-workers.ts"
import type { EchoFraming, EchoOptions } from "./Echo.ts"

const usage =
  `usage: echo [--host 127.0.0.1] [--port 7000] [--framing none|lines|length] ${ExampleWorkers.workersUsage} ${ExampleTls.serverUsage} ${ExampleProxy.proxyUsage}`

/**
 * Parses `--host`, `--port`, `--framing none|lines|length`, `--workers N`
 * (processes serving the port, default 1) and the TLS flags
 * (`--tls-cert PATH --tls-key PATH`, `--tls-ca PATH` for mutual TLS; see
 * scripts/example-tls.ts); exits with status 2 and the usage on a bad value,
 * an unknown flag (a misspelt TLS flag must not leave the server plain) or an
 * unreadable certificate.
 * `--proxy-protocol CIDR[,CIDR]` serves behind TCP load balancers at those
 * addresses, reading their PROXY protocol headers (see scripts/example-proxy.ts).
 */
export const parse = (argv: ReadonlyArray<string>): EchoOptions & { readonly workers: number } => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "7000" },
        framing: { type: "string", default: "none" },
        ...ExampleWorkers.workersFlags,
        ...ExampleTls.serverFlags,
        ...ExampleProxy.proxyFlags
      },
      strict: true
    }).values
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`)
    process.exit(2)
  }
  const framing = values.framing
  if (framing !== "none" && framing !== "lines" && framing !== "length") {
    console.error(`--framing must be none, lines or length (got ${framing})\n${usage}`)
    process.exit(2)
  }
  return {
    host: values.host,
    port: Number(values.port),
    framing: framing as EchoFraming,
    proxyProtocol: ExampleProxy.proxyProtocol(values, usage),
    tls: ExampleTls.server(values, usage),
    workers: ExampleWorkers.workers(values, usage)
  }
}
