/**
 * The echo example on Node: `npm start` (flags: --host, --port, --framing none|lines|length).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as Echo from "./Echo.ts"

Layer.launch(Echo.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
