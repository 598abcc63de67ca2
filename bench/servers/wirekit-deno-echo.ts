/**
 * Bench server: wirekit on Deno (DenoTransport, Deno.listen; with --tls-cert/--tls-key over TLS: ListenOptions.tls).
 * `deno run -A bench/servers/wirekit-deno-echo.ts --port 0 --mode echo|sink [--framing none|length4] [--tls-cert PATH --tls-key PATH]`
 * Same server as the Node entry (bench/src/servers.ts); only the transport differs.
 * Prints `LISTENING <port>` when ready.
 */
import { DenoTransport } from "@wirekit/deno"
import { Effect } from "effect"
import { echoServer, parseServerFlags, runServer } from "../src/servers.ts"

declare const Deno: {
  readonly args: ReadonlyArray<string>
  addSignalListener(signal: "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

runServer(echoServer(parseServerFlags(Deno.args)).pipe(Effect.provide(DenoTransport.layer)), (code) => Deno.exit(code))
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
