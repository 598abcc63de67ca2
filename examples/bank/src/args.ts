/** Command-line flags of the bank server (the same on every runtime). */
import { parseArgs } from "node:util"
import * as ExampleProxy from "../../../scripts/example-proxy.ts"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as ExampleWorkers from "../../../scripts/example-workers.ts"
import { DEFAULT_PORT } from "./Bank.ts"
import type { BankOptions } from "./Server.ts"
import { defaultLimits } from "./Server.ts"

const usage =
  "usage: bank-server [--host 127.0.0.1] [--port 7003] [--max-accounts 100000] [--max-keys 100000] [--key-ttl 86400] [--reply-delay 0] " +
  `${ExampleWorkers.workersUsage} ${ExampleTls.serverUsage} ${ExampleProxy.proxyUsage}`

const integer = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max} (got ${text})\n${usage}`)
    process.exit(2)
  }
  return n
}

/**
 * Parses `--host` (default 127.0.0.1), `--port` (default 7003, 0 for any
 * free port), `--max-accounts`, `--max-keys` (idempotency keys remembered),
 * `--key-ttl` (seconds a key is remembered) and `--reply-delay` (ms between
 * applying a `Deposit` or `Transfer` and answering it: to try retries),
 * `--workers N` (processes serving the port, each with its own accounts;
 * default 1) and the
 * TLS flags (`--tls-cert PATH --tls-key PATH`, `--tls-ca PATH` for mutual TLS;
 * see scripts/example-tls.ts); exits with status 2 and the usage on a bad value
 * or an unreadable certificate.
 * `--proxy-protocol CIDR[,CIDR]` serves behind TCP load balancers at those
 * addresses, reading their PROXY protocol headers (see scripts/example-proxy.ts).
 */
export const parse = (argv: ReadonlyArray<string>): BankOptions & { readonly workers: number } => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: String(DEFAULT_PORT) },
        "max-accounts": { type: "string", default: String(defaultLimits.maxAccounts) },
        "max-keys": { type: "string", default: String(defaultLimits.maxKeys) },
        "key-ttl": { type: "string", default: String(defaultLimits.keyTtlMs / 1000) },
        "reply-delay": { type: "string", default: "0" },
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
    maxAccounts: integer("max-accounts", values["max-accounts"], 1, 10_000_000),
    maxKeys: integer("max-keys", values["max-keys"], 1, 10_000_000),
    keyTtlMs: integer("key-ttl", values["key-ttl"], 1, 30 * 24 * 3600) * 1000,
    replyDelay: integer("reply-delay", values["reply-delay"], 0, 20_000),
    // first: with --tls-cert it is refused before any certificate file is read
    proxyProtocol: ExampleProxy.proxyProtocol(values, usage),
    tls: ExampleTls.server(values, usage),
    workers: ExampleWorkers.workers(values, usage)
  }
}
