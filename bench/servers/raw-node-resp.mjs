// Raw node:net RESP baseline for the wirekit bench (suite `resp`, raw-node-resp).
//
//   node bench/servers/raw-node-resp.mjs --port 0 --host 127.0.0.1
//
// What a competent hand-written RESP server on node:net looks like: noDelay;
// each 'data' chunk goes through the shared parser/commands (lib/resp.mjs:
// PING, SET, GET, CONFIG GET, one Map keyspace for the process) and every reply
// of the chunk leaves in ONE socket.write of the connection's reusable output
// buffer. That buffer is reused only while writes complete synchronously (the
// usual case on loopback); when node:net has to queue a write it still owns the
// buffer, so the next batch gets a fresh one. Past 64 MiB queued for a client
// that does not read, the socket stops reading until 'drain'.
// A protocol error is answered (-ERR Protocol error) and the connection closed;
// a resource bound (see lib/resp.mjs) closes it at once.
// Prints "LISTENING <port>" when ready; exits on SIGTERM/SIGINT.
import { Buffer } from "node:buffer"
import net from "node:net"
import { makeStore, parseServerArgs, RespSession } from "./lib/resp.mjs"

const opts = parseServerArgs(process.argv.slice(2))
if (typeof opts === "string") {
  process.stderr.write(`raw-node-resp: ${opts}\n`)
  process.exit(2)
}

const MAX_QUEUED = 64 * 1024 * 1024
const latin1Slice = Buffer.prototype.latin1Slice
// latin1Slice: Node's native one-char-per-byte decoder (what toString("latin1") ends in, without
// the argument handling); Buffer.allocUnsafe: small value copies come from Node's pool.
const host = { latin1: (b, s, e) => latin1Slice.call(b, s, e), alloc: (n) => Buffer.allocUnsafe(n) }
const store = makeStore()
const ignore = () => {}

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true)
  socket.on("error", ignore) // redis-benchmark resets its connections at the end
  const session = new RespSession(store, host)
  const resume = () => socket.resume()
  socket.on("data", (chunk) => {
    let out
    try {
      out = session.push(chunk)
    } catch {
      socket.destroy() // a resource bound: close without a reply, as Redis does
      return
    }
    if (out === null) return
    if (session.error !== null) {
      socket.end(out)
      return
    }
    socket.write(out)
    if (socket.writableLength !== 0) {
      session.releaseOutput()
      if (socket.writableLength > MAX_QUEUED) {
        socket.pause()
        socket.once("drain", resume)
      }
    }
  })
})

server.on("error", (err) => {
  process.stderr.write(`raw-node-resp: ${err.message}\n`)
  process.exit(1)
})

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))
