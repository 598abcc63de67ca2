/**
 * The bank server on Bun: `npm start -- --example bank --runtime bun` (same flags as main.ts).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { BunRuntime } from "@effect/platform-bun"
import { BunTransport } from "@wirekit/bun"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as BankServer from "./Server.ts"

Layer.launch(BankServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(BunTransport.layer), BunRuntime.runMain)
