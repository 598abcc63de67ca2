/** The workers fixture on Deno (see Fixture.ts). */
import { DenoRuntime, DenoTransport, DenoWorkers } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import * as Fixture from "./Fixture.ts"

const D =
  (globalThis as unknown as { readonly Deno: { readonly args: ReadonlyArray<string>; readonly pid: number } }).Deno
const { port, workers } = Fixture.parse(D.args)
Layer.launch(Fixture.layer(port, D.pid)).pipe(
  DenoWorkers.run({ workers }),
  Effect.provide(DenoTransport.layer),
  DenoRuntime.runMain
)
