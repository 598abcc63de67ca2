/** The PROXY protocol e2e backend on Node (see proxy-backend-app.ts). */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { app } from "./proxy-backend-app.ts"

Layer.launch(app).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
