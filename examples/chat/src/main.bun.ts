/**
 * The chat example on Bun: `npm start -- --example chat --runtime bun` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { BunContext, BunRuntime } from "@effect/platform-bun"
import { BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as ChatRoom from "./Chat.ts"

main(
  { context: BunContext.layer, runMain: BunRuntime.runMain },
  (options) =>
    Layer.launch(ChatRoom.layer(options)).pipe(
      BunWorkers.run({ workers: options.workers }),
      Effect.provide(BunTransport.layer)
    )
)
