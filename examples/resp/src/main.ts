/**
 * The Redis-protocol example on Node: `npm start -- --example resp [--port 6380] [--host 127.0.0.1] [--max-command-bytes N] [--workers N]`.
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as RespServer from "./RespServer.ts"

const options = parse(process.argv.slice(2))
Layer.launch(RespServer.layer(options)).pipe(
  NodeWorkers.run({ workers: options.workers }),
  Effect.provide(NodeTransport.layer),
  NodeRuntime.runMain
)
