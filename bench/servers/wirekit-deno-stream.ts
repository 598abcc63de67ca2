/**
 * Bench entry (suite `stream`): bench/src/stream.ts on Deno (DenoTransport, Deno.listen / Deno.connect), server or client.
 * `deno run -A bench/servers/wirekit-deno-stream.ts --role server --port 0 --host 127.0.0.1`
 * `deno run -A bench/servers/wirekit-deno-stream.ts --role client --port P --host 127.0.0.1 --items N --warmup-items W`
 * The server prints `LISTENING <port>` when ready; the client `RESULT {…}` or `ERROR …`.
 */
import { DenoTransport } from "@wirekit/deno"
import { streamMain } from "../src/stream.ts"

declare const Deno: {
  readonly args: ReadonlyArray<string>
  addSignalListener(signal: "SIGTERM", handler: () => void): void
  exit(code?: number): never
}

streamMain(Deno.args, DenoTransport.layer, (code) => Deno.exit(code))
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
