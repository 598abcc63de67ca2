/**
 * Bench entry (suite `stream`): bench/src/stream.ts on Node (NodeTransport, node:net), server or client.
 * `node --import tsx bench/servers/wirekit-node-stream.ts --role server --port 0 --host 127.0.0.1`
 * `node --import tsx bench/servers/wirekit-node-stream.ts --role client --port P --host 127.0.0.1 --items N --warmup-items W`
 * The server prints `LISTENING <port>` when ready; the client `RESULT {…}` or `ERROR …`.
 */
import { NodeTransport } from "@wirekit/node"
import { streamMain } from "../src/stream.ts"

streamMain(process.argv.slice(2), NodeTransport.layer, (code) => process.exit(code))
process.on("SIGTERM", () => process.exit(0))
