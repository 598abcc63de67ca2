/**
 * The syslog example on Node: `npm start -- --example syslog` (flags: `--help`).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { NodeDatagram, NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as SyslogServer from "./server/SyslogServer.ts"
import * as Counters from "./store/Counters.ts"

main(
  { context: NodeContext.layer, runMain: NodeRuntime.runMain },
  (flags) =>
    Layer.launch(SyslogServer.layer(flags).pipe(Layer.provide(Counters.layer({ maxHosts: flags.maxHosts })))).pipe(
      NodeWorkers.run({ workers: flags.workers }),
      Effect.provide(Layer.merge(NodeTransport.layer, NodeDatagram.layer))
    )
)
