/** Command-line flags of the RESP example (the same on every runtime). */
import { parseArgs } from "node:util"
import * as ExampleProxy from "../../../scripts/example-proxy.ts"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as ExampleWorkers from "../../../scripts/example-workers.ts"
import type { RespServerOptions } from "./RespServer.ts"

const usage =
  `usage: resp [--host 127.0.0.1] [--port 6380] [--max-command-bytes N] ${ExampleWorkers.workersUsage} ${ExampleTls.serverUsage} ${ExampleProxy.proxyUsage}`

/**
 * Parses `--host` (default 127.0.0.1), `--port` (default 6380), `--max-command-bytes` (the
 * decoder's `maxCommandBytes`: largest cost of one command, its arguments' lengths plus a fixed
 * overhead each; default 128 MiB), `--workers N` (processes serving the port, each with its
 * own store; default 1) and the TLS flags (`--tls-cert PATH --tls-key PATH`,
 * `--tls-ca PATH` for mutual TLS; see scripts/example-tls.ts); exits with status 2 and the
 * usage on an unknown flag (a misspelt TLS flag must not leave the server plain) or an
 * unreadable certificate.
 * `--proxy-protocol CIDR[,CIDR]` serves behind TCP load balancers at those
 * addresses, reading their PROXY protocol headers (see scripts/example-proxy.ts).
 */
export const parse = (argv: ReadonlyArray<string>): RespServerOptions & { readonly workers: number } => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "6380" },
        "max-command-bytes": { type: "string" },
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
  const maxCommandBytes = values["max-command-bytes"]
  return {
    host: values.host,
    port: Number(values.port),
    limits: maxCommandBytes === undefined ? {} : { maxCommandBytes: Number(maxCommandBytes) },
    // first: with --tls-cert it is refused before any certificate file is read
    proxyProtocol: ExampleProxy.proxyProtocol(values, usage),
    tls: ExampleTls.server(values, usage),
    workers: ExampleWorkers.workers(values, usage)
  }
}
