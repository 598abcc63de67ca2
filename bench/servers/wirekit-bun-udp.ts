/**
 * Bench server: wirekit UDP on bun (BunDatagram); the server is bench/src/udp.ts, only the layer differs.
 * `--port 0 --host 127.0.0.1 --mode echo|sink`; prints `LISTENING <port>` when bound.
 */
import { BunDatagram } from "@wirekit/bun"
import { Effect } from "effect"
import { runServer } from "../src/servers.ts"
import { parseUdpFlags, udpServer } from "../src/udp.ts"

runServer(
  udpServer(parseUdpFlags(process.argv.slice(2))).pipe(Effect.provide(BunDatagram.layer)),
  (code) => process.exit(code)
)
process.on("SIGTERM", () => process.exit(0))
