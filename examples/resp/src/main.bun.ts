/**
 * The Redis-protocol example on Bun: `npm start -- --example resp --runtime bun`.
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { BunRuntime } from "@effect/platform-bun"
import { BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as RespServer from "./RespServer.ts"

// on JavaScriptCore short arguments are cheaper copied than viewed (see RequestDecoder's copyUpTo)
const parsed = parse(process.argv.slice(2))
const options = { ...parsed, limits: { ...parsed.limits, copyUpTo: 32 } }

Layer.launch(RespServer.layer(options)).pipe(
  BunWorkers.run({ workers: parsed.workers }),
  Effect.provide(BunTransport.layer),
  BunRuntime.runMain
)
