/**
 * The bank server on Deno: `npm start -- --example bank --runtime deno` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { DenoRuntime, DenoTransport } from "@wirekit/deno"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as BankServer from "./Server.ts"

Layer.launch(BankServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(DenoTransport.layer), DenoRuntime.runMain)
