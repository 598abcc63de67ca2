/**
 * The Redis-protocol example on Bun: `npm start -- --example resp --runtime bun` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { BunContext, BunRuntime } from "@effect/platform-bun"
import { BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as RespServer from "./RespServer.ts"

main(
  { context: BunContext.layer, runMain: BunRuntime.runMain },
  (options) =>
    // on JavaScriptCore short arguments are cheaper copied than viewed (see RequestDecoder's copyUpTo)
    Layer.launch(RespServer.layer({ ...options, limits: { ...options.limits, copyUpTo: 32 } })).pipe(
      BunWorkers.run({ workers: options.workers }),
      Effect.provide(BunTransport.layer)
    )
)
