/**
 * The echo example on Node: `npm start` (flags: `--help`).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as Echo from "./Echo.ts"

main(
  { context: NodeContext.layer, runMain: NodeRuntime.runMain },
  (options) =>
    Layer.launch(Echo.layer(options)).pipe(
      NodeWorkers.run({ workers: options.workers }),
      Effect.provide(NodeTransport.layer)
    )
)
