// Raw Bun.udpSocket baseline for the UDP bench (bench/udp.mjs).
//
//   bun bench/servers/raw-bun-udp.mjs --port 0 --host 127.0.0.1 --mode echo|sink
//
// echo: every datagram is sent back to its sender, one socket.send per data callback.
// sink: datagrams are counted and dropped; a datagram "?" is answered with the count so far.
// Prints exactly one line "LISTENING <port>" on stdout when ready; exits on SIGTERM/SIGINT.
import { parseServerArgs } from "./lib/args.mjs"
const opts = parseServerArgs(process.argv.slice(2), process.exit)
let count = 0
const socket = await Bun.udpSocket({
  hostname: opts.host,
  port: opts.port,
  socket: {
    data: opts.mode === "echo"
      ? (s, buf, port, addr) => {
        s.send(buf, port, addr)
      }
      : (s, buf, port, addr) => {
        if (buf.length === 1 && buf[0] === 63) s.send(String(count), port, addr)
        else count++
      }
  }
})
console.log(`LISTENING ${socket.port}`)
const stop = () => {
  socket.close()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
