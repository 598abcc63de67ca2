/** The PROXY protocol e2e backend on Bun (see packages/node/test/proxy-backend-app.ts). */
import { BunRuntime } from "@effect/platform-bun"
import { BunTransport } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { app } from "../../node/test/proxy-backend-app.ts"

Layer.launch(app).pipe(Effect.provide(BunTransport.layer), BunRuntime.runMain)
