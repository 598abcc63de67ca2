/**
 * Bench server (suite `typed`): the kv service on @effect/rpc (bench/src/kv-rpc.ts) over
 * @effect/platform-bun's BunSocketServer (node:net under Bun), ndjson.
 * `bun run bench/servers/effect-rpc-bun-kv.ts --port 0 --host 127.0.0.1 --variant gen|mw`
 * Prints `LISTENING <port>` when ready.
 */
import { BunSocketServer } from "@effect/platform-bun"
import { Effect } from "effect"
import { rpcKvServer } from "../src/kv-rpc.ts"
import { parseKvFlags } from "../src/kv-service.ts"

const flags = parseKvFlags(process.argv.slice(2))
Effect.runFork(rpcKvServer(BunSocketServer.layer({ host: flags.host, port: flags.port }), flags.variant))
process.on("SIGTERM", () => process.exit(0))
