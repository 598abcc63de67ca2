/**
 * Bench server (suite `typed`): the kv service on @effect/rpc (bench/src/kv-rpc.ts) over
 * @effect/platform-node's NodeSocketServer, ndjson.
 * `node --import tsx bench/servers/effect-rpc-node-kv.ts --port 0 --host 127.0.0.1 --variant gen|mw`
 * Prints `LISTENING <port>` when ready.
 */
import { NodeSocketServer } from "@effect/platform-node"
import { Effect } from "effect"
import { rpcKvServer } from "../src/kv-rpc.ts"
import { parseKvFlags } from "../src/kv-service.ts"

const flags = parseKvFlags(process.argv.slice(2))
Effect.runFork(rpcKvServer(NodeSocketServer.layer({ host: flags.host, port: flags.port }), flags.variant))
process.on("SIGTERM", () => process.exit(0))
