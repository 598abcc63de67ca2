// Raw node:dgram baseline for the UDP bench (bench/udp.mjs).
//
//   node bench/servers/raw-node-udp.mjs --port 0 --host 127.0.0.1 --mode echo|sink
//
// echo: every datagram is sent back to its sender, one socket.send per 'message' event.
// sink: datagrams are counted and dropped; a datagram "?" is answered with the count so far.
// Prints exactly one line "LISTENING <port>" on stdout when ready; exits on SIGTERM/SIGINT.
import dgram from "node:dgram"
import { parseServerArgs } from "./lib/args.mjs"

const opts = parseServerArgs(process.argv.slice(2), process.exit)
const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 })
let count = 0
if (opts.mode === "echo") {
  socket.on("message", (msg, rinfo) => socket.send(msg, rinfo.port, rinfo.address))
} else {
  socket.on("message", (msg, rinfo) => {
    if (msg.length === 1 && msg[0] === 63) socket.send(String(count), rinfo.port, rinfo.address)
    else count++
  })
}
socket.bind(opts.port, opts.host, () => console.log(`LISTENING ${socket.address().port}`))
const stop = () => socket.close(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
