/**
 * Run by datagram.deno.test.ts in a child `deno run` whose flags lack something (--unstable-net, --allow-net):
 * binds with DenoDatagram and prints one JSON line, whether `Deno.listenDatagram` exists and the bind's error.
 */
import { Datagram } from "@wirekit/core"
import { DenoDatagram } from "@wirekit/deno"
import { Effect } from "effect"

const error = await Effect.runPromise(
  Effect.scoped(Effect.flatMap(Datagram.DatagramTransport, (t) => Effect.flip(t.bind({ host: "127.0.0.1", port: 0 }))))
    .pipe(Effect.provide(DenoDatagram.layer))
)
const deno = (globalThis as { readonly Deno?: { readonly listenDatagram?: unknown } }).Deno
console.log(JSON.stringify({
  listenDatagram: typeof deno?.listenDatagram,
  tag: error._tag,
  reason: error.reason,
  operation: error.operation,
  code: error.code,
  detail: error.detail,
  message: error.message
}))
