/**
 * The kv server on Node: `npm start -- --example kv` (flags: --host, --port, --max-key, --max-value, --max-keys).
 * Only this file knows the runtime; Ctrl-C stops it cleanly.
 */
import { NodeRuntime } from "@effect/platform-node"
import { NodeTransport } from "@wirekit/node"
import { Effect, Layer } from "effect"
import { parse } from "./args.ts"
import * as KvServer from "./Server.ts"

Layer.launch(KvServer.layer(parse(process.argv.slice(2)))).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
