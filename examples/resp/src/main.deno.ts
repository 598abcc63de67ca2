/**
 * The Redis-protocol example on Deno: `npm start -- --example resp --runtime deno`.
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { DenoRuntime, DenoTransport, DenoWorkers } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as RespServer from "./RespServer.ts"

const options = parse(process.argv.slice(2))
Layer.launch(RespServer.layer(options)).pipe(
  DenoWorkers.run({ workers: options.workers }),
  Effect.provide(DenoTransport.layer),
  DenoRuntime.runMain
)
