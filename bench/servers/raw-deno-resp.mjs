// Raw Deno RESP baseline for the wirekit bench (suite `resp`, raw-deno-resp).
//
//   deno run --allow-net bench/servers/raw-deno-resp.mjs --port 0 --host 127.0.0.1
//
// Deno.listen (Deno's own sockets, not node:net), noDelay. Per connection one
// async read loop that reads straight into the session's input buffer (no copy
// of the read; a command cut by the end of a read stays at the buffer's front
// and the next read lands behind it), runs the shared parser/commands
// (lib/resp.mjs: PING, SET, GET, CONFIG GET, one Map keyspace for the process)
// and writes every reply of the read from the session's reusable output buffer
// in one write-all (conn.write may write less than asked) before the next read,
// so a client that does not read its replies is not read either.
// A protocol error is answered (-ERR Protocol error) and the connection closed;
// a resource bound (see lib/resp.mjs) closes it at once.
// Prints "LISTENING <port>" when ready; exits on SIGTERM.
import { Buffer } from "node:buffer"
import { makeStore, parseServerArgs, RespSession } from "./lib/resp.mjs"

const opts = parseServerArgs(Deno.args)
if (typeof opts === "string") {
  console.error(`raw-deno-resp: ${opts}`)
  Deno.exit(2)
}

const latin1Slice = Buffer.prototype.latin1Slice
// From Deno's node:buffer, the fastest of what Deno has for both: latin1Slice is 2× faster than
// building the key in JavaScript, and Buffer.allocUnsafe takes small value copies from a pool
// (a plain `new Uint8Array(3)` costs ~0.85 µs on Deno, ~20× more).
const host = { latin1: (b, s, e) => latin1Slice.call(b, s, e), alloc: (n) => Buffer.allocUnsafe(n) }
const store = makeStore()

async function writeAll(conn, buf) {
  let off = 0
  while (off < buf.length) off += await conn.write(off === 0 ? buf : buf.subarray(off))
}

async function serve(conn) {
  try {
    conn.setNoDelay(true)
  } catch {}
  const session = new RespSession(store, host)
  try {
    for (;;) {
      const n = await conn.read(session.readBuffer())
      if (n === null) break
      const out = session.commit(n)
      if (out !== null) await writeAll(conn, out)
      if (session.error !== null) break // a protocol error, answered: close
    }
  } catch {
    // reset by redis-benchmark at the end, or a resource bound of lib/resp.mjs: close
  } finally {
    try {
      conn.close()
    } catch {}
  }
}

const listener = Deno.listen({ hostname: opts.host, port: opts.port, transport: "tcp" })
console.log(`LISTENING ${listener.addr.port}`)
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
for await (const conn of listener) serve(conn)
