/**
 * Bench server: wirekit on Deno (DenoTransport, Deno.listen).
 * `deno run -A bench/servers/wirekit-deno-echo.ts --port 0 --mode echo|sink [--framing none|length4]`
 * Same server as the Node entry (bench/src/servers.ts); only the transport differs.
 * Prints `LISTENING <port>` when ready.
 */
import { DenoTransport } from "@wirekit/deno"
import { Effect } from "effect"
import { echoServer, parseServerFlags } from "../src/servers.ts"

declare const Deno: {
  readonly args: ReadonlyArray<string>
  addSignalListener(signal: "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

Effect.runFork(echoServer(parseServerFlags(Deno.args)).pipe(Effect.provide(DenoTransport.layer)))
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
