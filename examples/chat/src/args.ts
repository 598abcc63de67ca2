/** Command-line flags of the chat example (the same on every runtime). */
import { RedisBackplane } from "@wirekit/redis"
import { Duration } from "effect"
import { parseArgs } from "node:util"
import * as ExampleProxy from "../../../scripts/example-proxy.ts"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as ExampleWorkers from "../../../scripts/example-workers.ts"
import type { ChatOptions } from "./Chat.ts"
import { DEFAULT_MAX_LINE_LENGTH } from "./Chat.ts"

const usage =
  `usage: chat [--host 127.0.0.1] [--port 7001] [--max-line 512] [--backplane redis://HOST:PORT [--backplane-ttl 6000]] ${ExampleWorkers.workersUsage} ${ExampleTls.serverUsage} ${ExampleProxy.proxyUsage}`

const integer = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < min || n > max) {
    console.error(`--${name} must be an integer from ${min} to ${max} (got ${text})\n${usage}`)
    process.exit(2)
  }
  return n
}

/**
 * `--backplane URL`: share rooms with the other chat servers on this Redis
 * (`redis://` or `rediss://`; absent: this server's rooms are its own);
 * `--backplane-ttl MS`: a server silent this long is dead, its clients gone
 * from `/who` (it beats every third of that). Exits with status 2 on a bad value.
 */
const backplane = (url: string | undefined, ttlText: string) => {
  if (url === undefined) return undefined
  if (!/^rediss?:\/\/./.test(url)) {
    console.error(`--backplane must be a redis:// or rediss:// URL (got ${url})\n${usage}`)
    process.exit(2)
  }
  const ttl = integer("backplane-ttl", ttlText, 300, 3_600_000)
  return RedisBackplane.layer({ url, ttl: Duration.millis(ttl), heartbeat: Duration.millis(Math.floor(ttl / 3)) })
}

/**
 * Parses `--host` (default 127.0.0.1), `--port` (default 7001, 0 for any free
 * port), `--max-line` (the longest line a client may send, in bytes,
 * default 512), `--workers N` (processes serving the port, default 1) and the TLS flags (`--tls-cert PATH --tls-key PATH`,
 * `--tls-ca PATH` for mutual TLS; see scripts/example-tls.ts); exits with
 * status 2 and the usage on a bad value or an unreadable certificate.
 * `--proxy-protocol CIDR[,CIDR]` serves behind TCP load balancers at those
 * addresses, reading their PROXY protocol headers (see scripts/example-proxy.ts).
 */
export const parse = (argv: ReadonlyArray<string>): ChatOptions & { readonly workers: number } => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "7001" },
        "max-line": { type: "string", default: String(DEFAULT_MAX_LINE_LENGTH) },
        backplane: { type: "string" },
        "backplane-ttl": { type: "string", default: "6000" },
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
    maxLineLength: integer("max-line", values["max-line"], 1, 1024 * 1024),
    backplane: backplane(values.backplane, values["backplane-ttl"]),
    // first: with --tls-cert it is refused before any certificate file is read
    proxyProtocol: ExampleProxy.proxyProtocol(values, usage),
    tls: ExampleTls.server(values, usage),
    workers: ExampleWorkers.workers(values, usage)
  }
}
