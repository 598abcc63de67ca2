/**
 * Bench server: wirekit on Bun (BunTransport, Bun.listen).
 * `bun run bench/servers/wirekit-bun-echo.ts --port 0 --mode echo|sink [--framing none|length4]`
 * Same server as the Node entry (bench/src/servers.ts); only the transport differs.
 * Prints `LISTENING <port>` when ready.
 */
import { BunTransport } from "@wirekit/bun"
import { Effect } from "effect"
import { echoServer, parseServerFlags } from "../src/servers.ts"

Effect.runFork(echoServer(parseServerFlags(process.argv.slice(2))).pipe(Effect.provide(BunTransport.layer)))
process.on("SIGTERM", () => process.exit(0))
