#!/usr/bin/env node
// Memory per idle connection, and what slowloris peers leave behind. See bench/README.md ("idle-memory").
//
//   node bench/idle-memory.mjs --server raw-node,wirekit-node [--conns 10000] [--wait 5]
//   node bench/idle-memory.mjs --server resp-node --rounds 10 [--peers 1000] [--hold 1]
//   node bench/idle-memory.mjs --cmd "node srv.mjs --port {port}" [--ready REGEX] [--partial hex:…]
//   node bench/idle-memory.mjs --list
//
// idle mode (default): start the server, open --warmup connections and close them
// (first-use costs: code, pools), wait, read the server's RSS, open --conns idle
// connections from a separate client process (no byte sent), wait --wait seconds,
// check that they are all still open, read the RSS again: (after - before) / conns.
// rounds mode (--rounds R): R rounds of --peers peers that each connect, send a
// partial request (--partial; by default one fitting the server's protocol), hold
// --hold seconds, and close; after each round (once the server has seen the
// closes: --settle seconds) the server's RSS, then the peak and the last growth.
//
// RSS is VmRSS of /proc/PID/status of the server process (the runtime itself:
// every server here runs in the process the tool starts). Servers and the client
// run with `ulimit -n` raised to the hard limit. One server at a time; the figures
// are not speed measurements but a busy machine still blurs them.
import { spawn } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import readline from "node:readline"
import { fileURLToPath } from "node:url"
import { ensureBuilt } from "../scripts/runtimes.mjs"

// servers started from TypeScript sources import @wirekit/* from the packages' dist/: build what changed
ensureBuilt()

const SELF = fileURLToPath(import.meta.url)
const ROOT = path.resolve(path.dirname(SELF), "..")
const NODE = process.execPath
const BUN = path.join(ROOT, "node_modules/.bin/bun")
const DENO = path.join(ROOT, "node_modules/.bin/deno")
const HOST = "127.0.0.1"
const CHILD_ENV = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", DENO_NO_UPDATE_CHECK: "1", DENO_NO_PROMPT: "1" }

// ---------------------------------------------------------------------------
// Partial requests (what a slowloris peer sends before it goes quiet)
// ---------------------------------------------------------------------------

const lengthPrefixed = (declared, body) => {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(declared)
  return Buffer.concat([head, Buffer.from(body)])
}
const PARTIAL = {
  // a SET whose value is announced as 64 bytes, 10 of which arrive
  resp: Buffer.from("*3\r\n$3\r\nSET\r\n$7\r\nkey:abc\r\n$64\r\n0123456789"),
  // a frame announced as 200 bytes, its first 24 sent
  length4: lengthPrefixed(200, "{\"id\":1,\"request\":{\"_tag"),
  // a line without its end (the echo servers send it back: a byte echo has no partial request)
  text: Buffer.from("GET / HTTP/1.1\r\nHost: slowloris\r\nX-a: b")
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

const LISTENING = /^LISTENING (\d+)\s*$/m
const EXAMPLE_READY = /listening on [^\s;]*:(\d+)/
const echoArgs = ["--port", "0", "--host", HOST, "--mode", "echo"]
const runOn = {
  node: (entry, args) => [NODE, entry.endsWith(".ts") ? ["--import", "tsx", entry, ...args] : [entry, ...args]],
  bun: (entry, args) => [BUN, ["run", entry, ...args]],
  deno: (entry, args) => [DENO, ["run", "-A", entry, ...args]]
}
const exampleEntry = (example, rt) => `examples/${example}/src/${rt === "node" ? "main.ts" : `main.${rt}.ts`}`

/** name → { cmd, args, ready (regex, first group the port) | port: "free" (the tool passes {port}), partial }. */
const SERVERS = {}
for (const rt of ["node", "bun", "deno"]) {
  const at = (entry, args) => {
    const [cmd, argv] = runOn[rt](entry, args)
    return { cmd, args: argv }
  }
  SERVERS[`raw-${rt}`] = { ...at(`bench/servers/raw-${rt}-echo.mjs`, echoArgs), ready: LISTENING, partial: "text" }
  SERVERS[`raw-${rt}-resp`] = {
    ...at(`bench/servers/raw-${rt}-resp.mjs`, ["--port", "0", "--host", HOST]),
    ready: LISTENING,
    partial: "resp"
  }
  SERVERS[`wirekit-${rt}`] = {
    ...at(`bench/servers/wirekit-${rt}-echo.ts`, echoArgs),
    ready: LISTENING,
    partial: "text"
  }
  // the echo example logs nothing with its port: it gets a free one
  SERVERS[`echo-${rt}`] = {
    ...at(exampleEntry("echo", rt), ["--port", "{port}", "--host", HOST]),
    port: "free",
    ready: /echo server ready/,
    partial: "text"
  }
  SERVERS[`kv-${rt}`] = {
    ...at(exampleEntry("kv", rt), ["--port", "0", "--host", HOST]),
    ready: EXAMPLE_READY,
    partial: "length4"
  }
  SERVERS[`resp-${rt}`] = {
    ...at(exampleEntry("resp", rt), ["--port", "0", "--host", HOST]),
    ready: EXAMPLE_READY,
    partial: "resp"
  }
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function usage(code) {
  const out = code === 0 ? process.stdout : process.stderr
  out.write(
    [
      "usage: node bench/idle-memory.mjs (--server a,b | --cmd \"CMD {port}\") [options]",
      "  --server a,b     servers, one after the other (--list shows them)",
      "  --cmd CMD        a server command line (split on spaces); {port}: a free port the tool picks,",
      "                   else the port is read from --ready",
      "  --ready REGEX    the server's ready line, first group the port (default: LISTENING <port>)",
      "  --conns N        idle connections (default 10000)",
      "  --wait S         seconds between the last connect and the second RSS reading (default 5)",
      "  --warmup N       connections opened and closed before the first reading (default 200)",
      "  --rounds R       slowloris mode: R rounds of --peers peers (default: idle mode)",
      "  --peers N        peers per round (default 1000)",
      "  --hold S         seconds a peer holds its partial request before it closes (default 1)",
      "  --settle S       seconds after the closes before each reading (default 2)",
      "  --partial P      what a peer sends: resp | length4 | text | hex:<bytes> (default: the server's)",
      "  --json           also print one JSON line per server",
      "  --list           list the servers"
    ].join("\n") + "\n"
  )
  process.exit(code)
}

function parseArgs(argv) {
  const opts = {
    servers: [],
    cmd: null,
    ready: null,
    conns: 10_000,
    wait: 5,
    warmup: 200,
    rounds: 0,
    peers: 1000,
    hold: 1,
    settle: 2,
    partial: null,
    json: false
  }
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) fail(`missing value for ${key}`)
      return v
    }
    const number = () => {
      const v = Number(value())
      if (!Number.isFinite(v) || v < 0) fail(`bad value for ${key}`)
      return v
    }
    switch (key) {
      case "--server":
        opts.servers.push(...value().split(",").filter(Boolean))
        break
      case "--cmd":
        opts.cmd = value()
        break
      case "--ready":
        opts.ready = new RegExp(value(), "m")
        break
      case "--conns":
        opts.conns = Math.floor(number())
        break
      case "--wait":
        opts.wait = number()
        break
      case "--warmup":
        opts.warmup = Math.floor(number())
        break
      case "--rounds":
        opts.rounds = Math.floor(number())
        break
      case "--peers":
        opts.peers = Math.floor(number())
        break
      case "--hold":
        opts.hold = number()
        break
      case "--settle":
        opts.settle = number()
        break
      case "--partial":
        opts.partial = value()
        break
      case "--json":
        opts.json = true
        break
      case "--list":
        for (const [name, s] of Object.entries(SERVERS)) {
          const cmd = s.cmd === NODE ? "node" : path.relative(ROOT, s.cmd)
          process.stdout.write(`${name.padEnd(16)} ${[cmd, ...s.args].join(" ")}\n`)
        }
        process.exit(0)
        break
      case "-h":
      case "--help":
        usage(0)
        break
      default:
        fail(`unknown option ${key}`)
    }
  }
  if (opts.servers.length === 0 && opts.cmd === null) usage(2)
  for (const s of opts.servers) if (!SERVERS[s]) fail(`unknown server ${s} (--list)`)
  return opts
}

function fail(message) {
  process.stderr.write(`idle-memory: ${message}\n`)
  process.exit(2)
}

const partialBytes = (name) => {
  if (name.startsWith("hex:")) return Buffer.from(name.slice(4), "hex")
  const p = PARTIAL[name]
  if (!p) fail(`unknown --partial ${name} (resp, length4, text, hex:…)`)
  return p
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const shellQuote = (s) => `'${String(s).replaceAll("'", "'\\''")}'`

/** Runs cmd with the open-files limit raised to the hard limit (sh's exec keeps the pid). */
const spawnRaised = (cmd, args, stdio) =>
  spawn("/bin/sh", ["-c", `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${[cmd, ...args].map(shellQuote).join(" ")}`], {
    cwd: ROOT,
    env: CHILD_ENV,
    stdio
  })

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, HOST, () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

/** VmRSS of pid in KiB, or NaN once it is gone. */
const rssKiB = (pid) => {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) : NaN
  } catch {
    return NaN
  }
}

async function startServer(def) {
  let port = null
  let args = def.args
  if (def.port === "free") {
    port = await freePort()
    args = args.map((a) => a.replaceAll("{port}", String(port)))
  }
  const child = spawnRaised(def.cmd, args, ["ignore", "pipe", "pipe"])
  let output = ""
  let ready = false
  const ok = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ error: `not ready within 30 s (waiting for ${def.ready})` }), 30_000)
    const onData = (d) => {
      // keep reading (a server that logs every connection must not block), keep only a tail
      if (ready) return
      output = (output + d.toString()).slice(-20_000)
      const m = def.ready.exec(output)
      if (m) {
        ready = true
        output = ""
        clearTimeout(timer)
        resolve({ port: port ?? Number(m[1]) })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code, sig) => {
      clearTimeout(timer)
      resolve({ error: `exited before it was ready (code ${code}, signal ${sig}): ${output.slice(-2000)}` })
    })
  })
  if (ok.error) {
    child.kill("SIGKILL")
    throw new Error(ok.error)
  }
  return { child, port: ok.port, pid: child.pid }
}

async function stopServer(srv) {
  if (srv.child.exitCode !== null || srv.child.signalCode !== null) return
  const exited = new Promise((r) => srv.child.once("exit", r))
  srv.child.kill("SIGTERM")
  const t = setTimeout(() => srv.child.kill("SIGKILL"), 3000)
  await exited
  clearTimeout(t)
}

/** The client process, driven by one command per line on its stdin; answers one JSON line each. */
function startClient(port) {
  const child = spawnRaised(NODE, [SELF, "--role", "client", "--port", String(port)], ["pipe", "pipe", "inherit"])
  const lines = readline.createInterface({ input: child.stdout })
  const waiting = []
  lines.on("line", (line) => waiting.shift()?.(JSON.parse(line)))
  child.once("exit", () => {
    for (const w of waiting.splice(0)) w({ error: "client exited" })
  })
  const ask = (command) =>
    new Promise((resolve) => {
      waiting.push(resolve)
      child.stdin.write(JSON.stringify(command) + "\n")
    })
  return { ask, stop: () => child.kill("SIGKILL") }
}

// ---------------------------------------------------------------------------
// The client role: opens, holds and closes connections on command
// ---------------------------------------------------------------------------

async function clientMain(argv) {
  const port = Number(argv[argv.indexOf("--port") + 1])
  const sockets = new Set()
  let serverClosed = 0
  const CONCURRENT = 200

  const openOne = (payload) =>
    new Promise((resolve) => {
      const s = net.connect({ host: HOST, port })
      s.setNoDelay(true)
      s.on("data", () => {}) // whatever comes back is read, so our close is a FIN, not an RST
      s.on("error", () => {})
      s.once("close", () => {
        if (sockets.delete(s) && !s.closingByUs) serverClosed++
      })
      s.once("connect", () => {
        sockets.add(s)
        if (payload) s.write(payload)
        resolve(true)
      })
      s.once("error", () => resolve(false))
      s.setTimeout(10_000, () => {
        s.destroy()
        resolve(false)
      })
      s.once("connect", () => s.setTimeout(0))
    })

  const open = async (n, payload) => {
    let failed = 0
    let next = 0
    const worker = async () => {
      while (next < n) {
        next++
        if (!(await openOne(payload))) failed++
      }
    }
    await Promise.all(Array.from({ length: Math.min(CONCURRENT, n) }, worker))
    return { open: sockets.size, failed }
  }

  const closeAll = async () => {
    const all = [...sockets]
    await Promise.all(all.map((s) =>
      new Promise((resolve) => {
        s.closingByUs = true
        if (s.destroyed) return resolve()
        s.once("close", resolve)
        s.end()
        // a server that does not answer our FIN is not waited for
        setTimeout(() => s.destroy(), 2000).unref()
      })
    ))
    return { open: sockets.size }
  }

  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    const c = JSON.parse(line)
    let answer
    if (c.op === "open") answer = await open(c.n, c.payload ? Buffer.from(c.payload, "hex") : null)
    else if (c.op === "close") answer = await closeAll()
    else if (c.op === "count") answer = { open: sockets.size, serverClosed }
    else if (c.op === "exit") process.exit(0)
    process.stdout.write(JSON.stringify(answer) + "\n")
  }
  process.exit(0)
}

// ---------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------

const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`

async function idleRun(name, def, opts) {
  const srv = await startServer(def)
  const client = startClient(srv.port)
  try {
    if (opts.warmup > 0) {
      const w = await client.ask({ op: "open", n: opts.warmup })
      if (w.failed > 0) throw new Error(`warmup: ${w.failed} connects failed`)
      await client.ask({ op: "close" })
    }
    await sleep(2000)
    const before = rssKiB(srv.pid)
    const t0 = Date.now()
    const o = await client.ask({ op: "open", n: opts.conns })
    const connectS = (Date.now() - t0) / 1000
    await sleep(opts.wait * 1000)
    const after = rssKiB(srv.pid)
    const c = await client.ask({ op: "count" })
    if (o.failed > 0 || c.open !== opts.conns) {
      throw new Error(
        `${o.failed} connects failed, ${c.open} of ${opts.conns} still open (${c.serverClosed} closed by the server)`
      )
    }
    const perConn = (after - before) / opts.conns
    process.stdout.write(
      `${name.padEnd(16)} ${String(opts.conns).padStart(6)} idle: RSS ${mib(before)} -> ${mib(after)}: ` +
        `${perConn.toFixed(1)} KiB per connection (connects took ${connectS.toFixed(1)} s)\n`
    )
    if (opts.json) {
      process.stdout.write(
        JSON.stringify({
          server: name,
          mode: "idle",
          conns: opts.conns,
          beforeKiB: before,
          afterKiB: after,
          perConnKiB: perConn
        }) + "\n"
      )
    }
  } finally {
    client.stop()
    await stopServer(srv)
  }
}

async function roundsRun(name, def, opts) {
  const payload = partialBytes(opts.partial ?? def.partial ?? "text")
  const srv = await startServer(def)
  const client = startClient(srv.port)
  try {
    await sleep(2000)
    const start = rssKiB(srv.pid)
    const readings = [start]
    process.stdout.write(
      `${name.padEnd(16)} rounds of ${opts.peers} slowloris peers (${payload.length} bytes each): RSS ${mib(start)}`
    )
    for (let r = 0; r < opts.rounds; r++) {
      const o = await client.ask({ op: "open", n: opts.peers, payload: payload.toString("hex") })
      if (o.failed > 0) process.stdout.write(` [${o.failed} connects failed]`)
      await sleep(opts.hold * 1000)
      await client.ask({ op: "close" })
      await sleep(opts.settle * 1000)
      const rss = rssKiB(srv.pid)
      if (Number.isNaN(rss)) throw new Error("the server exited")
      readings.push(rss)
      process.stdout.write(` ${(rss / 1024).toFixed(0)}`)
    }
    const signed = (kib) => `${kib >= 0 ? "+" : ""}${mib(kib)}`
    const peak = Math.max(...readings) - start
    process.stdout.write(
      ` MiB: peak ${signed(peak)}, end ${signed(readings.at(-1) - start)} over ${opts.rounds} rounds\n`
    )
    if (opts.json) {
      process.stdout.write(
        JSON.stringify({ server: name, mode: "rounds", peers: opts.peers, rounds: opts.rounds, rssKiB: readings }) +
          "\n"
      )
    }
  } finally {
    client.stop()
    await stopServer(srv)
  }
}

async function main() {
  const argv = process.argv.slice(2)
  if (argv[0] === "--role" && argv[1] === "client") return clientMain(argv)
  const opts = parseArgs(argv)
  const runs = opts.servers.map((name) => [name, SERVERS[name]])
  if (opts.cmd !== null) {
    const [cmd, ...args] = opts.cmd.split(/\s+/).filter(Boolean)
    const free = args.some((a) => a.includes("{port}"))
    runs.push(["cmd", { cmd, args, port: free ? "free" : undefined, ready: opts.ready ?? (free ? /./ : LISTENING) }])
  }
  let failed = false
  for (const [name, def] of runs) {
    try {
      if (opts.rounds > 0) await roundsRun(name, def, opts)
      else await idleRun(name, def, opts)
    } catch (err) {
      failed = true
      process.stdout.write(`\n${name}: FAILED: ${err.message}\n`)
    }
  }
  process.exit(failed ? 1 : 0)
}

main()
