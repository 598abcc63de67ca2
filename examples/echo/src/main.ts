/**
 * Starts the echo server on Node: `npm start` (or `npm start -- --host 0.0.0.0 --port 7000 --framing length`).
 * Ctrl-C stops it cleanly (listener closed, connections closed).
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import * as Echo from "./Echo.ts"

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "7000" },
    framing: { type: "string", default: "none" }
  },
  strict: false
})

const framing = String(values.framing)
if (framing !== "none" && framing !== "lines" && framing !== "length") {
  console.error(`--framing must be none, lines or length (got ${framing})`)
  process.exit(2)
}

Layer.launch(Echo.layer({ host: String(values.host), port: Number(values.port), framing })).pipe(
  Effect.provide(NodeTransport.layer),
  NodeRuntime.runMain
)
