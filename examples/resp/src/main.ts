/**
 * Starts the Redis-protocol example on Node: `npm start -- --example resp [--port 6380] [--host 127.0.0.1]`.
 * Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parseArgs } from "node:util"
import * as RespServer from "./RespServer.ts"

const { values } = parseArgs({
  options: { host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "6380" } },
  strict: false
})

Layer.launch(RespServer.layer({ host: String(values.host), port: Number(values.port) })).pipe(
  Effect.provide(NodeTransport.layer),
  NodeRuntime.runMain
)
