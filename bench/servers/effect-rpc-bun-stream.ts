/**
 * Bench entry (suite `stream`): bench/src/stream-rpc.ts (@effect/rpc, ndjson) on Bun, server or client:
 * @effect/platform-bun's BunSocketServer / BunSocket.layerNet (node:net under Bun, both).
 * `bun run bench/servers/effect-rpc-bun-stream.ts --role server --port 0 --host 127.0.0.1`
 * `bun run bench/servers/effect-rpc-bun-stream.ts --role client --port P --host 127.0.0.1 --items N --warmup-items W`
 * The server prints `LISTENING <port>` when ready; the client `RESULT {…}` or `ERROR …`.
 */
import { BunSocket, BunSocketServer } from "@effect/platform-bun"
import { rpcStreamMain } from "../src/stream-rpc.ts"

rpcStreamMain(
  process.argv.slice(2),
  { server: BunSocketServer.layer, socket: BunSocket.layerNet },
  (code) => process.exit(code)
)
process.on("SIGTERM", () => process.exit(0))
