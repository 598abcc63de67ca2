/**
 * The syslog example on Deno: `npm start -- --example syslog --runtime deno` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext } from "@effect/platform-node"
import { DenoDatagram, DenoRuntime, DenoTransport, DenoWorkers } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as SyslogServer from "./server/SyslogServer.ts"
import * as Counters from "./store/Counters.ts"

// @effect/cli's services (files, paths, the terminal) from Node's modules, which Deno provides
main(
  { context: NodeContext.layer, runMain: DenoRuntime.runMain },
  (flags) =>
    Layer.launch(
      SyslogServer.layer({ ...flags, udpWorkers: "first" }).pipe(
        Layer.provide(Counters.layer({ maxHosts: flags.maxHosts }))
      )
    ).pipe(
      DenoWorkers.run({ workers: flags.workers }),
      Effect.provide(Layer.merge(DenoTransport.layer, DenoDatagram.layer))
    )
)
