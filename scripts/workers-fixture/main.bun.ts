/** The workers fixture on Bun (see Fixture.ts). */
import { BunRuntime } from "@effect/platform-bun"
import { BunTransport, BunWorkers } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import * as Fixture from "./Fixture.ts"

const { port, workers } = Fixture.parse(process.argv.slice(2))
Layer.launch(Fixture.layer(port, process.pid)).pipe(
  BunWorkers.run({ workers }),
  Effect.provide(BunTransport.layer),
  BunRuntime.runMain
)
