/**
 * Bench server: wirekit on Node (NodeTransport, node:net; with --tls-cert/--tls-key over TLS: ListenOptions.tls).
 * `node --import tsx bench/servers/wirekit-node-echo.ts --port 0 --mode echo|sink [--framing none|length4] [--tls-cert PATH --tls-key PATH]`
 * Byte echo/sink, or (--framing length4) LengthField(4) framed echo/sink via Framed.pump.
 * Prints `LISTENING <port>` when ready.
 */
import { NodeTransport } from "@wirekit/node"
import { Effect } from "effect"
import { echoServer, parseServerFlags, runServer } from "../src/servers.ts"

runServer(
  echoServer(parseServerFlags(process.argv.slice(2))).pipe(Effect.provide(NodeTransport.layer)),
  (code) => process.exit(code)
)
process.on("SIGTERM", () => process.exit(0))
