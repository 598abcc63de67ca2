// Raw node:net framed baseline for the wirekit bench (suite `framed`).
//
//   node bench/servers/raw-node-framed.mjs --port 0 --host 127.0.0.1 --mode echo|sink [--kv] [--tls-cert PATH --tls-key PATH]
//
// echo: parses 4-byte big-endian length-prefixed frames (across chunk
//       boundaries), hands each payload to an identity handler, and encodes
//       every reply of one 'data' event into one buffer: ONE socket.write per
//       'data' event (noDelay). The fair batched baseline for wirekit's
//       Framed.pump; see lib/frames.mjs for what it does and does not do.
// sink: parses the frames and discards them.
// --kv: (suite `typed`, raw-node-kv) each frame goes to the kv handler of
//       lib/kv.mjs instead of the identity: JSON envelope in, JSON envelope out,
//       one Map store for the whole server; still one write per 'data' event.
// --tls-cert/--tls-key: (suite `framed-tls`, raw-node-framed-tls) the same on a
//       node:tls server with that certificate and key (PEM files), node's TLS defaults.
// A frame above 8 MiB closes the connection. Prints "LISTENING <port>" when ready.
import fs from "node:fs"
import net from "node:net"
import tls from "node:tls"
import { makeFramedCodec, parseServerArgs } from "./lib/frames.mjs"
import { makeKvHandler } from "./lib/kv.mjs"

const argv = process.argv.slice(2)
const kv = argv.includes("--kv")
const opts = parseServerArgs(argv.filter((a) => a !== "--kv"))
if (typeof opts === "string") {
  process.stderr.write(`raw-node-framed: ${opts}\n`)
  process.exit(2)
}

const ignore = () => {}
const identity = (frame) => frame
const drop = () => null
const alloc = (n) => Buffer.allocUnsafe(n)
const kvHandler = kv ? makeKvHandler({ decode: (b) => b.toString("utf8"), encode: (s) => Buffer.from(s) }) : null

const onConnection = (socket) => {
  socket.setNoDelay(true)
  socket.on("error", ignore) // the load generator resets connections at the end
  const codec = makeFramedCodec({ alloc, handler: kvHandler ?? (opts.mode === "echo" ? identity : drop) })
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
}

const server = opts.tlsCert === null
  ? net.createServer({ noDelay: true }, onConnection)
  : tls.createServer(
    { noDelay: true, cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) },
    onConnection
  )

server.on("error", (err) => {
  process.stderr.write(`raw-node-framed: ${err.message}\n`)
  process.exit(1)
})

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))
