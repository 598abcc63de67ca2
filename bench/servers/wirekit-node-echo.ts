/**
 * Bench server: byte echo (or sink) through a wirekit connection on Node.
 * `node --import tsx bench/servers/wirekit-node-echo.ts --port 0 --mode echo|sink`
 * Prints `LISTENING <port>` when ready.
 */
import { NodeTransport } from "@wirekit/node"
import { Effect } from "effect"
import { parseArgs } from "node:util"
import { echoServer } from "../src/servers.ts"

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    mode: { type: "string", default: "echo" }
  },
  strict: false
})

Effect.runFork(
  echoServer({ host: String(values.host), port: Number(values.port), mode: values.mode === "sink" ? "sink" : "echo" }).pipe(
    Effect.provide(NodeTransport.layer)
  )
)
process.on("SIGTERM", () => process.exit(0))
