// Raw node:net framed baseline for the wirekit bench (suite `framed`).
//
//   node bench/servers/raw-node-framed.mjs --port 0 --host 127.0.0.1 --mode echo|sink
//
// echo: parses 4-byte big-endian length-prefixed frames (across chunk
//       boundaries), hands each payload to an identity handler, and encodes
//       every reply of one 'data' event into one buffer: ONE socket.write per
//       'data' event (noDelay). The fair batched baseline for wirekit's
//       Framed.pump; see lib/frames.mjs for what it does and does not do.
// sink: parses the frames and discards them.
// A frame above 8 MiB closes the connection. Prints "LISTENING <port>" when ready.
import net from "node:net"
import { makeFramedCodec, parseServerArgs } from "./lib/frames.mjs"

const opts = parseServerArgs(process.argv.slice(2))
if (typeof opts === "string") {
  process.stderr.write(`raw-node-framed: ${opts}\n`)
  process.exit(2)
}

const ignore = () => {}
const identity = (frame) => frame
const drop = () => null
const alloc = (n) => Buffer.allocUnsafe(n)

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true)
  socket.on("error", ignore) // the load generator resets connections at the end
  const codec = makeFramedCodec({ alloc, handler: opts.mode === "echo" ? identity : drop })
  socket.on("data", (chunk) => {
    let out
    try {
      out = codec.push(chunk)
    } catch {
      socket.destroy()
      return
    }
    if (out !== null) socket.write(out)
  })
})

server.on("error", (err) => {
  process.stderr.write(`raw-node-framed: ${err.message}\n`)
  process.exit(1)
})

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))
