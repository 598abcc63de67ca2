/**
 * Bench server: wirekit UDP on deno (DenoDatagram); the server is bench/src/udp.ts, only the layer differs.
 * `--port 0 --host 127.0.0.1 --mode echo|sink`; prints `LISTENING <port>` when bound.
 */
import { DenoDatagram } from "@wirekit/deno"
import { Effect } from "effect"
import { runServer } from "../src/servers.ts"
import { parseUdpFlags, udpServer } from "../src/udp.ts"

declare const Deno: {
  readonly args: ReadonlyArray<string>
  addSignalListener(signal: "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

runServer(udpServer(parseUdpFlags(Deno.args)).pipe(Effect.provide(DenoDatagram.layer)), (code) => Deno.exit(code))
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
