/**
 * The Redis-protocol example on Deno: `npm start -- --example resp --runtime deno`.
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { DenoRuntime, DenoTransport } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as RespServer from "./RespServer.ts"

Layer.launch(RespServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
