/**
 * The chat example on Node: `npm start -- --example chat` (flags: `--help`).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as ChatRoom from "./Chat.ts"

main(
  { context: NodeContext.layer, runMain: NodeRuntime.runMain },
  (options) =>
    Layer.launch(ChatRoom.layer(options)).pipe(
      NodeWorkers.run({ workers: options.workers }),
      Effect.provide(NodeTransport.layer)
    )
)
