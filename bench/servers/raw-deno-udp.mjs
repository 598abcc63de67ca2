// Raw Deno.listenDatagram baseline for the UDP bench (bench/udp.mjs). Needs --unstable-net.
//
//   deno run -A --unstable-net bench/servers/raw-deno-udp.mjs --port 0 --host 127.0.0.1 --mode echo|sink
//
// echo: a receive loop; every datagram is sent back to its sender (the send is not awaited:
//       the load generator bounds what is in flight).
// sink: datagrams are counted and dropped; a datagram "?" is answered with the count so far.
// Prints exactly one line "LISTENING <port>" on stdout when ready; exits on SIGTERM/SIGINT.
import { parseServerArgs } from "./lib/args.mjs"
const opts = parseServerArgs(Deno.args, Deno.exit)
const socket = Deno.listenDatagram({ transport: "udp", hostname: opts.host, port: opts.port })
console.log(`LISTENING ${socket.addr.port}`)
for (const sig of ["SIGTERM", "SIGINT"]) Deno.addSignalListener(sig, () => Deno.exit(0))
const enc = new TextEncoder()
let count = 0
for (;;) {
  const [data, addr] = await socket.receive()
  if (opts.mode === "echo") socket.send(data, addr).catch(() => {})
  else if (data.length === 1 && data[0] === 63) socket.send(enc.encode(String(count)), addr).catch(() => {})
  else count++
}
