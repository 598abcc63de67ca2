/** The PROXY protocol e2e backend on Deno (see packages/node/test/proxy-backend-app.ts). */
import { DenoRuntime, DenoTransport } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { app } from "../../node/test/proxy-backend-app.ts"

Layer.launch(app).pipe(Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
