/**
 * Bench server (suite `typed`): the kv service of bench/src/kv.ts on Bun (BunTransport, Bun.listen).
 * `bun run bench/servers/wirekit-bun-kv.ts --port 0 --host 127.0.0.1 --variant gen|mw`
 * Prints `LISTENING <port>` when ready.
 */
import { BunTransport } from "@wirekit/bun"
import { Effect } from "effect"
import { kvServer, parseKvFlags } from "../src/kv.ts"

Effect.runFork(kvServer(parseKvFlags(process.argv.slice(2))).pipe(Effect.provide(BunTransport.layer)))
process.on("SIGTERM", () => process.exit(0))
