/**
 * The bank server on Node: `npm start -- --example bank` (flags: --host, --port, --max-accounts, --max-keys, --key-ttl, --reply-delay).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as BankServer from "./Server.ts"

Layer.launch(BankServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
