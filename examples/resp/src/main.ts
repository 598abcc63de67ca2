/**
 * The Redis-protocol example on Node: `npm start -- --example resp [--port 6380] [--host 127.0.0.1] [--max-command-bytes N]`.
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as RespServer from "./RespServer.ts"

Layer.launch(RespServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
