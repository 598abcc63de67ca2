/**
 * Bench server (suite `typed`): the kv service of bench/src/kv.ts on Deno (DenoTransport, Deno.listen).
 * `deno run -A bench/servers/wirekit-deno-kv.ts --port 0 --host 127.0.0.1 --variant gen|mw`
 * Prints `LISTENING <port>` when ready.
 */
import { DenoTransport } from "@wirekit/deno"
import { Effect } from "effect"
import { kvServer, parseKvFlags } from "../src/kv.ts"

declare const Deno: {
  readonly args: ReadonlyArray<string>
  addSignalListener(signal: "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

Effect.runFork(kvServer(parseKvFlags(Deno.args)).pipe(Effect.provide(DenoTransport.layer)))
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
