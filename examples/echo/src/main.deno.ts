/**
 * The echo example on Deno: `npm start -- --runtime deno` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { DenoRuntime, DenoTransport } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as Echo from "./Echo.ts"

Layer.launch(Echo.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
