/** Command-line flags of the kv server (the same on every runtime). */
import { parseArgs } from "node:util"
import * as ExampleProxy from "../../../scripts/example-proxy.ts"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as ExampleWorkers from "../../../scripts/example-workers.ts"
import { DEFAULT_PORT } from "./Kv.ts"
import type { KvOptions } from "./Server.ts"
import { defaultLimits } from "./Server.ts"

const usage =
  `usage: kv-server [--host 127.0.0.1] [--port 7002] [--max-key 256] [--max-value 1048576] [--max-keys 1000000] ${ExampleWorkers.workersUsage} ${ExampleTls.serverUsage} ${ExampleProxy.proxyUsage}`

const integer = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max} (got ${text})\n${usage}`)
    process.exit(2)
  }
  return n
}

/**
 * Parses `--host` (default 127.0.0.1), `--port` (default 7002, 0 for any
 * free port), `--max-key` (bytes), `--max-value` (bytes, at most 8 MiB - 64 KiB:
 * a value must fit in one frame with its envelope), `--max-keys`, `--workers N`
 * (processes serving the port, each with its own store; default 1) and the TLS
 * flags (`--tls-cert PATH --tls-key PATH`, `--tls-ca PATH` for mutual TLS; see
 * scripts/example-tls.ts); exits with status 2 and the usage on a bad value or
 * an unreadable certificate.
 * `--proxy-protocol CIDR[,CIDR]` serves behind TCP load balancers at those
 * addresses, reading their PROXY protocol headers (see scripts/example-proxy.ts).
 */
export const parse = (argv: ReadonlyArray<string>): KvOptions & { readonly workers: number } => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: String(DEFAULT_PORT) },
        "max-key": { type: "string", default: String(defaultLimits.maxKeyLength) },
        "max-value": { type: "string", default: String(defaultLimits.maxValueSize) },
        "max-keys": { type: "string", default: String(defaultLimits.maxKeys) },
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
  return {
    host: values.host,
    port: integer("port", values.port, 0, 65535),
    maxKeyLength: integer("max-key", values["max-key"], 1, 64 * 1024),
    maxValueSize: integer("max-value", values["max-value"], 0, 8 * 1024 * 1024 - 64 * 1024),
    maxKeys: integer("max-keys", values["max-keys"], 1, 100_000_000),
    // first: with --tls-cert it is refused before any certificate file is read
    proxyProtocol: ExampleProxy.proxyProtocol(values, usage),
    tls: ExampleTls.server(values, usage),
    workers: ExampleWorkers.workers(values, usage)
  }
}
