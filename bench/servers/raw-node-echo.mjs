// Raw node:net baseline for the wirekit bench.
//
//   node bench/servers/raw-node-echo.mjs --port 0 --host 127.0.0.1 --mode echo|sink [--tls-cert PATH --tls-key PATH]
//
// echo: one socket.write(chunk) per 'data' event (noDelay), no framing, no
//       backpressure handling — the simplest fast echo node:net allows.
//       (The load generator bounds the bytes in flight per connection.)
// sink: read and discard.
// --tls-cert/--tls-key (suites `echo-tls`, `handshake`: raw-node-tls): the same
//       handler on a node:tls server with that certificate and key (PEM files)
//       and node's TLS defaults; a connection reaches it once its handshake is done.
// Prints exactly one line "LISTENING <port>" on stdout when ready; exits on SIGTERM/SIGINT.
import fs from "node:fs"
import net from "node:net"
import tls from "node:tls"

const opts = { port: 0, host: "127.0.0.1", mode: "echo", tlsCert: null, tlsKey: null }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i]
  const value = argv[i + 1]
  if (value === undefined) fail(`missing value for ${key}`)
  if (key === "--port") opts.port = Number(value)
  else if (key === "--host") opts.host = value
  else if (key === "--mode") opts.mode = value
  else if (key === "--tls-cert") opts.tlsCert = value
  else if (key === "--tls-key") opts.tlsKey = value
  else fail(`unknown option ${key}`)
}
if ((opts.tlsCert === null) !== (opts.tlsKey === null)) fail("--tls-cert and --tls-key go together")
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail("bad --port")
if (opts.mode !== "echo" && opts.mode !== "sink") fail("--mode must be echo or sink")

function fail(message) {
  process.stderr.write(`raw-node-echo: ${message}\n`)
  process.exit(2)
}

const ignore = () => {}

const onConnection = (socket) => {
  socket.setNoDelay(true)
  socket.on("error", ignore) // the load generator resets connections at the end
  if (opts.mode === "echo") {
    socket.on("data", (chunk) => {
      socket.write(chunk)
    })
  } else {
    socket.on("data", ignore)
  }
}

const server = opts.tlsCert === null
  ? net.createServer({ noDelay: true }, onConnection)
  : tls.createServer(
    { noDelay: true, cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) },
    onConnection
  )

server.on("error", (err) => {
  process.stderr.write(`raw-node-echo: ${err.message}\n`)
  process.exit(1)
})

server.listen(opts.port, opts.host, () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})

process.on("SIGTERM", () => process.exit(0))
process.on("SIGINT", () => process.exit(0))
