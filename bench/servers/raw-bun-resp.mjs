// Raw Bun RESP baseline for the wirekit bench (suite `resp`, raw-bun-resp).
//
//   bun run bench/servers/raw-bun-resp.mjs --port 0 --host 127.0.0.1
//
// Bun.listen (Bun's native sockets, not node:net), noDelay. Each `data` chunk
// goes through the shared parser/commands (lib/resp.mjs: PING, SET, GET, CONFIG
// GET, one Map keyspace for the process) and every reply of the chunk leaves in
// ONE socket.write of the connection's reusable output buffer. Bun's write takes
// what the OS accepts now and keeps nothing, so the buffer is free again when it
// returns; a short write copies the rest into a per-connection queue (later
// replies queue behind it, in order), flushed from `drain`. A client that lets
// more than 64 MiB queue up without reading is closed.
// A protocol error is answered (-ERR Protocol error) and the connection closed
// once that reply is out; a resource bound (see lib/resp.mjs) closes it at once.
// Prints "LISTENING <port>" when ready; exits on SIGTERM.
import { makeStore, parseServerArgs, RespSession } from "./lib/resp.mjs"

const opts = parseServerArgs(process.argv.slice(2))
if (typeof opts === "string") {
  process.stderr.write(`raw-bun-resp: ${opts}\n`)
  process.exit(2)
}

const MAX_QUEUED = 64 * 1024 * 1024
const latin1Slice = Buffer.prototype.latin1Slice
// latin1Slice: Bun's native one-char-per-byte decoder; on Bun a plain Uint8Array is the
// cheapest small allocation (cheaper than its Buffer.allocUnsafe).
const host = { latin1: (b, s, e) => latin1Slice.call(b, s, e), alloc: (n) => new Uint8Array(n) }
const store = makeStore()

/** Writes `out` (the session's reusable buffer) now, or queues a copy behind what is queued. */
function send(socket, state, out) {
  if (state.queued === 0) {
    const n = socket.write(out)
    if (n < 0 || n === out.length) return // closed, or all taken
    out = out.subarray(n)
  }
  if (state.queued + out.length > MAX_QUEUED) {
    socket.terminate()
    return
  }
  state.queue.push(new Uint8Array(out)) // a copy: the session reuses its buffer for the next batch
  state.queued += out.length
}

function flush(socket, state) {
  const q = state.queue
  while (q.length > 0) {
    const head = q[0]
    const n = socket.write(head)
    if (n < 0) {
      q.length = 0
      state.queued = 0
      return
    }
    state.queued -= Math.min(n, head.length)
    if (n < head.length) {
      q[0] = head.subarray(n)
      return // wait for the next drain
    }
    q.shift()
  }
  if (state.session.error !== null) socket.end()
}

const listener = Bun.listen({
  hostname: opts.host,
  port: opts.port,
  socket: {
    open(socket) {
      socket.setNoDelay(true)
      socket.data = { session: new RespSession(store, host), queue: [], queued: 0 }
    },
    data(socket, chunk) {
      const state = socket.data
      let out
      try {
        out = state.session.push(chunk)
      } catch {
        socket.terminate() // a resource bound: close without a reply, as Redis does
        return
      }
      if (out === null) return
      send(socket, state, out)
      if (state.session.error !== null && state.queued === 0) socket.end()
    },
    drain(socket) {
      flush(socket, socket.data)
    },
    error() {},
    close(socket) {
      if (socket.data) {
        socket.data.queue.length = 0
        socket.data.queued = 0
      }
    }
  }
})

process.stdout.write(`LISTENING ${listener.port}\n`)
process.on("SIGTERM", () => process.exit(0))
