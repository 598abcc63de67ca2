/**
 * The kv server on Node: `npm start -- --example kv` (flags: `--help`).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as KvServer from "./Server.ts"

main(
  { context: NodeContext.layer, runMain: NodeRuntime.runMain },
  (options) =>
    Layer.launch(KvServer.layer(options)).pipe(
      NodeWorkers.run({ workers: options.workers }),
      Effect.provide(NodeTransport.layer)
    )
)
