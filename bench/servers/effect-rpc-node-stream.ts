/**
 * Bench entry (suite `stream`): bench/src/stream-rpc.ts (@effect/rpc, ndjson) on Node, server or client:
 * @effect/platform-node's NodeSocketServer / NodeSocket.layerNet.
 * `node --import tsx bench/servers/effect-rpc-node-stream.ts --role server --port 0 --host 127.0.0.1`
 * `node --import tsx bench/servers/effect-rpc-node-stream.ts --role client --port P --host 127.0.0.1 --items N --warmup-items W`
 * The server prints `LISTENING <port>` when ready; the client `RESULT {…}` or `ERROR …`.
 */
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { rpcStreamMain } from "../src/stream-rpc.ts"

rpcStreamMain(
  process.argv.slice(2),
  { server: NodeSocketServer.layer, socket: NodeSocket.layerNet },
  (code) => process.exit(code)
)
process.on("SIGTERM", () => process.exit(0))
