/** The workers fixture on Node (see Fixture.ts). */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport, NodeWorkers } from "@wirekit/node"
import { Effect, Layer } from "effect"
import * as Fixture from "./Fixture.ts"

const { port, workers } = Fixture.parse(process.argv.slice(2))
Layer.launch(Fixture.layer(port, process.pid)).pipe(
  NodeWorkers.run({ workers }),
  Effect.provide(NodeTransport.layer),
  NodeRuntime.runMain
)
