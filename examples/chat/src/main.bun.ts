/**
 * The chat example on Bun: `npm start -- --example chat --runtime bun` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { BunRuntime } from "@effect/platform-bun"
import { BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as ChatRoom from "./Chat.ts"

const options = parse(process.argv.slice(2))
Layer.launch(ChatRoom.layer(options)).pipe(
  BunWorkers.run({ workers: options.workers }),
  Effect.provide(BunTransport.layer),
  BunRuntime.runMain
)
