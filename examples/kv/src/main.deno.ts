/**
 * The kv server on Deno: `npm start -- --example kv --runtime deno` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext } from "@effect/platform-node"
import { DenoRuntime, DenoTransport, DenoWorkers } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as KvServer from "./Server.ts"

// @effect/cli's services (files, paths, the terminal) from Node's modules, which Deno provides
main(
  { context: NodeContext.layer, runMain: DenoRuntime.runMain },
  (options) =>
    Layer.launch(KvServer.layer(options)).pipe(
      DenoWorkers.run({ workers: options.workers }),
      Effect.provide(DenoTransport.layer)
    )
)
