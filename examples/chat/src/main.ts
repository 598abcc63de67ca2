/**
 * The chat example on Node: `npm start -- --example chat` (flags: --host, --port, --max-line, --workers).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as ChatRoom from "./Chat.ts"

const options = parse(process.argv.slice(2))
Layer.launch(ChatRoom.layer(options)).pipe(
  NodeWorkers.run({ workers: options.workers }),
  Effect.provide(NodeTransport.layer),
  NodeRuntime.runMain
)
