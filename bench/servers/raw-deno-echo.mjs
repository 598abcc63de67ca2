// Raw Deno baseline for the wirekit bench (suites `echo` and, with --framed, `framed`).
//
//   deno run --allow-net bench/servers/raw-deno-echo.mjs --port 0 --host 127.0.0.1 --mode echo|sink [--framed [--kv]]
//   deno run --allow-net --allow-read bench/servers/raw-deno-echo.mjs … --tls-cert PATH --tls-key PATH
//
// Deno.listen (Deno's own sockets, not node:net), noDelay. Per connection one
// async read loop with a reused 64 KiB buffer.
// echo:          every read is written back in full (a write-all loop over
//                conn.write, which may write less than asked) before the next read.
// echo --framed: each read goes through the shared frame parser/encoder
//                (lib/frames.mjs); every reply of the read leaves in one
//                write-all (the replies are copied out of the reused buffer).
// sink:          read and discard (--framed: parse frames and discard them).
// --framed --kv: (suite `typed`, raw-deno-kv) each frame goes to the kv handler of
//                lib/kv.mjs (JSON envelope in and out, one Map store for the server).
// --tls-cert/--tls-key: (suites `echo-tls`, `framed-tls`, `handshake`) the same
//                loop on Deno.listenTls with that certificate and key (PEM files),
//                Deno's TLS defaults; the handshake runs on the first read.
// Prints "LISTENING <port>" when ready; exits on SIGTERM.
import { makeFramedCodec, parseServerArgs } from "./lib/frames.mjs"
import { makeKvHandler } from "./lib/kv.mjs"

const framed = Deno.args.includes("--framed")
const kv = framed && Deno.args.includes("--kv")
const opts = parseServerArgs(Deno.args.filter((a) => a !== "--framed" && a !== "--kv"))
if (typeof opts === "string") {
  console.error(`raw-deno-echo: ${opts}`)
  Deno.exit(2)
}
const echo = opts.mode === "echo"
const identity = (frame) => frame
const drop = () => null
const alloc = (n) => new Uint8Array(n)
const kvHandler = kv ? makeKvHandler() : null

async function writeAll(conn, buf) {
  let off = 0
  while (off < buf.length) off += await conn.write(off === 0 ? buf : buf.subarray(off))
}

async function serve(conn) {
  try {
    conn.setNoDelay(true)
  } catch {}
  const buf = new Uint8Array(64 * 1024)
  const codec = framed ? makeFramedCodec({ alloc, handler: kvHandler ?? (echo ? identity : drop) }) : null
  try {
    for (;;) {
      const n = await conn.read(buf)
      if (n === null) break
      if (codec !== null) {
        const out = codec.push(buf.subarray(0, n))
        if (out !== null) await writeAll(conn, out)
      } else if (echo) {
        await writeAll(conn, buf.subarray(0, n))
      }
    }
  } catch {
    // reset by the load generator at the end, or a bad frame
  } finally {
    try {
      conn.close()
    } catch {}
  }
}

const listener = opts.tlsCert === null
  ? Deno.listen({ hostname: opts.host, port: opts.port, transport: "tcp" })
  : Deno.listenTls({
    hostname: opts.host,
    port: opts.port,
    cert: Deno.readTextFileSync(opts.tlsCert),
    key: Deno.readTextFileSync(opts.tlsKey)
  })
console.log(`LISTENING ${listener.addr.port}`)
Deno.addSignalListener("SIGTERM", () => Deno.exit(0))
for await (const conn of listener) serve(conn)
