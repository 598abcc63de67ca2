/**
 * Bench entry (suite `stream`): bench/src/stream.ts on Bun (BunTransport, Bun.listen / Bun.connect), server or client.
 * `bun run bench/servers/wirekit-bun-stream.ts --role server --port 0 --host 127.0.0.1`
 * `bun run bench/servers/wirekit-bun-stream.ts --role client --port P --host 127.0.0.1 --items N --warmup-items W`
 * The server prints `LISTENING <port>` when ready; the client `RESULT {…}` or `ERROR …`.
 */
import { BunTransport } from "@wirekit/bun"
import { streamMain } from "../src/stream.ts"

streamMain(process.argv.slice(2), BunTransport.layer, (code) => process.exit(code))
process.on("SIGTERM", () => process.exit(0))
