// Raw Bun baseline for the wirekit bench (suites `echo` and, with --framed, `framed`).
//
//   bun bench/servers/raw-bun-echo.mjs --port 0 --host 127.0.0.1 --mode echo|sink [--framed [--kv]]
//                                      [--tls-cert PATH --tls-key PATH]
//
// Bun.listen (Bun's native sockets, not node:net), noDelay.
// echo:          one socket.write per `data` callback. Bun's write takes what the
//                OS accepts now and buffers nothing, so a short write keeps the
//                rest in a small per-connection queue, in order (later data is
//                queued behind it), flushed from `drain`. Nothing is ever dropped.
// echo --framed: the same, but each `data` chunk goes through the shared frame
//                parser/encoder (lib/frames.mjs): every reply of the chunk in one write.
// sink:          read and discard (--framed: parse frames and discard them).
// --framed --kv: (suite `typed`, raw-bun-kv) each frame goes to the kv handler of
//                lib/kv.mjs (JSON envelope in and out, one Map store for the server).
// --tls-cert/--tls-key: (suites `echo-tls`, `framed-tls`, `handshake`) the same
//                handlers on a TLS listener: Bun.listen's `tls` option with that
//                certificate and key (PEM files), Bun's TLS defaults.
// Prints "LISTENING <port>" when ready; exits on SIGTERM.
import { makeFramedCodec, parseServerArgs } from "./lib/frames.mjs"
import { makeKvHandler } from "./lib/kv.mjs"

const argv = process.argv.slice(2)
const framed = argv.includes("--framed")
const kv = framed && argv.includes("--kv")
const opts = parseServerArgs(argv.filter((a) => a !== "--framed" && a !== "--kv"))
if (typeof opts === "string") {
  process.stderr.write(`raw-bun-echo: ${opts}\n`)
  process.exit(2)
}
const echo = opts.mode === "echo"
const identity = (frame) => frame
const drop = () => null
const alloc = (n) => Buffer.allocUnsafe(n)
const kvHandler = kv ? makeKvHandler({ decode: (b) => b.toString("utf8"), encode: (s) => Buffer.from(s) }) : null

/** Writes `buf` now if nothing is queued, else queues it; keeps what the OS did not take. */
function send(socket, state, buf) {
  if (state.queue.length === 0) {
    const n = socket.write(buf)
    if (n < 0) return // closed
    if (n === buf.length) return
    buf = buf.subarray(n)
  }
  state.queue.push(buf) // Bun hands us a fresh buffer per `data` call: no copy needed
}

function flush(socket, state) {
  const q = state.queue
  while (q.length > 0) {
    const head = q[0]
    const n = socket.write(head)
    if (n < 0) {
      q.length = 0
      return
    }
    if (n < head.length) {
      q[0] = head.subarray(n)
      return
    } // wait for the next drain
    q.shift()
  }
}

const listener = Bun.listen({
  hostname: opts.host,
  port: opts.port,
  ...(opts.tlsCert === null ? {} : { tls: { cert: Bun.file(opts.tlsCert), key: Bun.file(opts.tlsKey) } }),
  socket: {
    open(socket) {
      socket.setNoDelay(true)
      socket.data = {
        queue: [],
        codec: framed ? makeFramedCodec({ alloc, handler: kvHandler ?? (echo ? identity : drop) }) : null
      }
    },
    data(socket, data) {
      const state = socket.data
      if (state.codec !== null) {
        let out
        try {
          out = state.codec.push(data)
        } catch {
          socket.terminate()
          return
        }
        if (out !== null) send(socket, state, out)
      } else if (echo) {
        send(socket, state, data)
      }
    },
    drain(socket) {
      flush(socket, socket.data)
    },
    error() {},
    close(socket) {
      if (socket.data) socket.data.queue.length = 0
    }
  }
})

process.stdout.write(`LISTENING ${listener.port}\n`)
process.on("SIGTERM", () => process.exit(0))
