/**
 * The syslog example on Bun: `npm start -- --example syslog --runtime bun` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly (every worker, with --workers N).
 */
import { BunContext, BunRuntime } from "@effect/platform-bun"
import { BunDatagram, BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { main } from "./args.ts"
import * as SyslogServer from "./server/SyslogServer.ts"
import * as Counters from "./store/Counters.ts"

main(
  { context: BunContext.layer, runMain: BunRuntime.runMain },
  (flags) =>
    Layer.launch(
      SyslogServer.layer({ ...flags, udpWorkers: "first" }).pipe(
        Layer.provide(Counters.layer({ maxHosts: flags.maxHosts }))
      )
    ).pipe(
      BunWorkers.run({ workers: flags.workers }),
      Effect.provide(Layer.merge(BunTransport.layer, BunDatagram.layer))
    )
)
