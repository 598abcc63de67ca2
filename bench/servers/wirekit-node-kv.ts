/**
 * Bench server (suite `typed`): the kv service of bench/src/kv.ts on Node (NodeTransport, node:net).
 * `node --import tsx bench/servers/wirekit-node-kv.ts --port 0 --host 127.0.0.1 --variant gen|mw`
 * Prints `LISTENING <port>` when ready.
 */
import { NodeTransport } from "@wirekit/node"
import { Effect } from "effect"
import { kvServer, parseKvFlags } from "../src/kv.ts"

Effect.runFork(kvServer(parseKvFlags(process.argv.slice(2))).pipe(Effect.provide(NodeTransport.layer)))
process.on("SIGTERM", () => process.exit(0))
