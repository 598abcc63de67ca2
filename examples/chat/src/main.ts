/**
 * The chat example on Node: `npm start -- --example chat` (flags: --host, --port, --max-line).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as ChatRoom from "./Chat.ts"

Layer.launch(ChatRoom.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
