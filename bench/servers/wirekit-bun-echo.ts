/**
 * Bench server: wirekit on Bun (BunTransport, Bun.listen; with --tls-cert/--tls-key over TLS: ListenOptions.tls).
 * `bun run bench/servers/wirekit-bun-echo.ts --port 0 --mode echo|sink [--framing none|length4] [--tls-cert PATH --tls-key PATH]`
 * Same server as the Node entry (bench/src/servers.ts); only the transport differs.
 * Prints `LISTENING <port>` when ready.
 */
import { BunTransport } from "@wirekit/bun"
import { Effect } from "effect"
import { echoServer, parseServerFlags, runServer } from "../src/servers.ts"

runServer(
  echoServer(parseServerFlags(process.argv.slice(2))).pipe(Effect.provide(BunTransport.layer)),
  (code) => process.exit(code)
)
process.on("SIGTERM", () => process.exit(0))
