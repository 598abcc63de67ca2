/**
 * Bench server: wirekit on Node (NodeTransport, node:net).
 * `node --import tsx bench/servers/wirekit-node-echo.ts --port 0 --mode echo|sink [--framing none|length4]`
 * Byte echo/sink, or (--framing length4) LengthField(4) framed echo/sink via Framed.pump.
 * Prints `LISTENING <port>` when ready.
 */
import { NodeTransport } from "@wirekit/node"
import { Effect } from "effect"
import { echoServer, parseServerFlags } from "../src/servers.ts"

Effect.runFork(echoServer(parseServerFlags(process.argv.slice(2))).pipe(Effect.provide(NodeTransport.layer)))
process.on("SIGTERM", () => process.exit(0))
