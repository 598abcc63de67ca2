#!/usr/bin/env node
// Workers and backplane scaling. See bench/README.md ("scale").
//
//   node bench/scale.mjs [--parts throughput,fanout] [--runtimes node,bun,deno] [--runs N]
//                        [--duration S] [--warmup S] [--members N] [--messages M] [--windows 1,32]
//                        [--quick] [--write-readme] [--list]
//
// throughput: the echo example with --framing length (loadgen --mode echo, 64 conns × 16
// pipelined 64-byte frames) and the typed kv service (bench/servers/wirekit-kv-workers.ts,
// loadgen --mode kv, 64 × 16) with --workers 1 and 2, per runtime; requests/s and the ratio
// 2 workers / 1 worker. Servers and load generator unpinned (the workers need both cores).
// fanout: the chat example with 1 worker (in-process groups), 1 worker + Redis backplane and
// 2 workers + Redis backplane (a redis-server started per run on a free port, no persistence);
// a client process (this file, --role client) opens N members (all in #lobby) and a sender,
// which sends M lines `m <phase> <seq> <hrtime ns>` keeping W of them not yet delivered to every
// member; members check order and count receipts. Deliveries per second (M × N / time from the
// first send to the last receipt), latency from send to each member's receipt (p50/p99), and
// the time until the last member had a message (median).
// Runs are interleaved (A, B, C, A, B, C, ...), each with a fresh server; medians over --runs.
// Every child process and every wait has a deadline; Ctrl-C kills every child.
import { spawn, spawnSync } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { ensureBuilt } from "../scripts/runtimes.mjs"
import {
  buildC,
  BUN,
  CHILD_ENV,
  cpuBusy,
  DENO,
  exited,
  fmtInt,
  fmtMs,
  fmtRatio,
  gitInfo,
  killGroup,
  LABEL,
  live,
  machineInfo,
  median,
  NODE,
  rel,
  ROOT,
  sleep,
  spawnGroup,
  startServer,
  stop,
  tail,
  versionOf,
  waitExit,
  withSpread,
  writeReadmeSection
} from "./lib/harness.mjs"

// servers started from TypeScript sources import @wirekit/* from the packages' dist/: build what changed
ensureBuilt()

const SELF = fileURLToPath(import.meta.url)
const HOST = "127.0.0.1"
const LOADGEN = rel("bench/build/scale-loadgen")
const MARKERS = ["<!-- bench:scale:start -->", "<!-- bench:scale:end -->"]

const REDIS_READY_MS = 10_000
/** Loadgen load of the throughput part: connections × requests in flight each. */
const LOAD = { conns: 64, pipeline: 16, size: 64 }

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function usage(code) {
  ;(code ? process.stderr : process.stdout).write(
    [
      "usage: node bench/scale.mjs [options]",
      "  --parts a,b        throughput,fanout (default: both)",
      "  --runtimes a,b     node,bun,deno (default: all three; one whose binary is missing is skipped)",
      "  --runs N           runs per cell (default 3; --quick 1)",
      "  --duration S       throughput: measured seconds per run (default 2; --quick 1)",
      "  --warmup S         throughput: warmup seconds per run (default 1; --quick 0.3)",
      "  --members N        fanout: members of the room (default 1000; --quick 100)",
      "  --messages M       fanout: measured messages per window (default 200; --quick 20)",
      "  --windows a,b      fanout: messages not yet delivered to every member, at most (default 1,32)",
      "  --quick            smoke run: the smallest settings, not a measurement",
      "  --write-readme     replace the table between the scale markers in bench/README.md",
      "  --list             print what would run and exit",
      "  --help"
    ].join("\n") + "\n"
  )
  process.exit(code)
}

function parseArgs(argv) {
  const o = {
    parts: ["throughput", "fanout"],
    runtimes: ["node", "bun", "deno"],
    quick: process.env.BENCH_QUICK === "1",
    writeReadme: false,
    list: false
  }
  const list = (v) => v.split(",").map((s) => s.trim()).filter(Boolean)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) {
        console.error(`missing value for ${a}`)
        usage(2)
      }
      return argv[++i]
    }
    const num = (min) => {
      const v = val(), n = Number(v)
      if (!Number.isFinite(n) || n < min) {
        console.error(`bad value for ${a}: ${v}`)
        usage(2)
      }
      return n
    }
    switch (a) {
      case "--parts":
        o.parts = list(val())
        break
      case "--runtimes":
        o.runtimes = list(val())
        break
      case "--runs":
        o.runs = Math.floor(num(1))
        break
      case "--duration":
        o.duration = num(0.5)
        break
      case "--warmup":
        o.warmup = num(0)
        break
      case "--members":
        o.members = Math.floor(num(2))
        break
      case "--messages":
        o.messages = Math.floor(num(1))
        break
      case "--windows":
        o.windows = list(val()).map(Number)
        break
      case "--quick":
        o.quick = true
        break
      case "--write-readme":
        o.writeReadme = true
        break
      case "--list":
        o.list = true
        break
      case "--help":
      case "-h":
        usage(0)
        break
      default:
        console.error(`unknown option ${a}`)
        usage(2)
    }
  }
  if (o.parts.some((p) => p !== "throughput" && p !== "fanout")) {
    console.error("--parts: throughput, fanout")
    usage(2)
  }
  if (o.runtimes.some((r) => !["node", "bun", "deno"].includes(r))) {
    console.error("--runtimes: node, bun, deno")
    usage(2)
  }
  o.windows ??= [1, 32]
  if (o.windows.some((w) => !Number.isInteger(w) || w < 1 || w > 1000)) {
    console.error("--windows: integers from 1 to 1000")
    usage(2)
  }
  o.runs ??= o.quick ? 1 : 3
  o.duration ??= o.quick ? 1 : 2
  o.warmup ??= o.quick ? 0.3 : 1
  o.members ??= o.quick ? 100 : 1000
  o.messages ??= o.quick ? 20 : 200
  o.warmupMessages = Math.max(5, Math.round(o.messages / 4))
  return o
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, HOST, () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const runOn = {
  node: (entry, args) => [NODE, ["--import", "tsx", entry, ...args]],
  bun: (entry, args) => [BUN, ["run", entry, ...args]],
  deno: (entry, args) => [DENO, ["run", "-A", entry, ...args]]
}
const exampleEntry = (example, rt) => `examples/${example}/src/${rt === "node" ? "main.ts" : `main.${rt}.ts`}`
/** With more than one worker the primary logs this once every worker listens. */
const WORKERS_READY = /\d+ workers ready/

/** `root` and every process descending from it (from /proc/PID/stat's parent pids). */
function processTree(root) {
  const parent = new Map()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]))
    } catch {} // gone meanwhile
  }
  const tree = [root]
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parent) if (ppid === tree[i]) tree.push(pid)
  return tree
}

/**
 * How the established connections to local `port` are spread over the processes of the
 * server (its process tree; without `root` itself when it is a primary: Node's cluster
 * primary holds an accepted connection only while it hands it over): the counts of the
 * processes holding any, largest first ("32/32"), or null where /proc cannot tell.
 */
function connectionSpread(root, port, workers) {
  try {
    const inodes = new Set()
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text = ""
      try {
        text = fs.readFileSync(file, "utf8")
      } catch {
        continue
      }
      for (const line of text.split("\n").slice(1)) {
        const f = line.trim().split(/\s+/)
        // local_address HEXIP:HEXPORT, st 01 = ESTABLISHED, inode
        if (f.length > 9 && f[3] === "01" && parseInt(f[1].split(":")[1], 16) === port) inodes.add(f[9])
      }
    }
    const counts = []
    for (const pid of processTree(root).slice(workers > 1 ? 1 : 0)) {
      let n = 0
      try {
        for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
          try {
            const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
            if (m && inodes.has(m[1])) n++
          } catch {}
        }
      } catch {}
      if (n > 0) counts.push(n)
    }
    return counts.length ? counts.sort((a, b) => b - a).join("/") : null
  } catch {
    return null
  }
}

/** The load generator without TLS, built here (bench/run.mjs keeps its own build with its stamp). */
function buildLoadgen() {
  buildC("bench/loadgen/loadgen.c", "bench/build/scale-loadgen", ["-lm"])
}
// ---------------------------------------------------------------------------
// Part 1: throughput with 1 and 2 workers
// ---------------------------------------------------------------------------

const SERVICES = {
  framed: {
    label: "framed echo (`examples/echo --framing length`)",
    mode: "echo",
    cmd: (rt, port, workers) =>
      runOn[rt](exampleEntry("echo", rt), [
        "--host",
        HOST,
        "--port",
        String(port),
        "--framing",
        "length",
        "--workers",
        String(workers)
      ]),
    ready: (workers) => (workers > 1 ? WORKERS_READY : /echo server ready/)
  },
  kv: {
    label: "typed kv (`bench/servers/wirekit-kv-workers.ts`, rpc)",
    mode: "kv",
    cmd: (rt, port, workers) =>
      runOn[rt]("bench/servers/wirekit-kv-workers.ts", [
        "--host",
        HOST,
        "--port",
        String(port),
        "--workers",
        String(workers),
        "--variant",
        "rpc"
      ]),
    ready: (workers) => (workers > 1 ? WORKERS_READY : /^LISTENING \d+/m)
  }
}

function runLoadgen(port, mode, opts) {
  const args = [
    "--host",
    HOST,
    "--port",
    String(port),
    "--conns",
    String(LOAD.conns),
    "--size",
    String(mode === "kv" ? 0 : LOAD.size),
    "--pipeline",
    String(LOAD.pipeline),
    "--duration",
    String(opts.duration),
    "--warmup",
    String(opts.warmup),
    "--mode",
    mode,
    "--json"
  ]
  return new Promise((resolve) => {
    const child = spawn(LOADGEN, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    live.add(child)
    let out = "", err = ""
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d
    })
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err = tail(err + d, 2000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), (opts.duration + opts.warmup + 12) * 1000)
    child.once("error", (e) => {
      clearTimeout(timer)
      resolve({ error: `loadgen: ${e.message}` })
    })
    child.once("close", (code, sig) => {
      clearTimeout(timer)
      live.delete(child)
      let json = null
      try {
        json = JSON.parse(out.trim().split("\n").pop())
      } catch {}
      if (code === 0 && json && !json.error) return resolve({ json })
      resolve({
        error: json?.error ?? (sig ? `loadgen killed by ${sig}` : `loadgen exit ${code}: ${tail(err || out, 300)}`)
      })
    })
  })
}

async function throughputRun(rt, service, workers, opts) {
  const port = await freePort()
  const svc = SERVICES[service]
  const [cmd, args] = svc.cmd(rt, port, workers)
  const t0 = Date.now()
  let srv
  try {
    srv = await startServer(cmd, args, svc.ready(workers))
  } catch (e) {
    return { ok: false, error: e.message }
  }
  const startMs = Date.now() - t0
  // the connections' spread over the workers, read early in the measured window (every connection
  // is open by then; the kv load's setup runs before its warmup); a few ms of this process's CPU
  let spread = null
  const probe = setTimeout(() => {
    spread = connectionSpread(srv.child.pid, port, workers)
  }, (opts.warmup + opts.duration / 4) * 1000)
  const lg = await runLoadgen(port, svc.mode, opts)
  clearTimeout(probe)
  const died = exited(srv.child)
  await stop(srv.child)
  if (lg.error || died) {
    return {
      ok: false,
      startMs,
      error: died ? `server died during the run; ${lg.error ?? ""}` : lg.error,
      serverOutput: tail(srv.output(), 800)
    }
  }
  return { ok: true, startMs, rps: lg.json.rps, p50_us: lg.json.p50_us, p99_us: lg.json.p99_us, spread }
}

function throughputTable(rows) {
  const head = [
    "service",
    "runtime",
    "1 worker req/s",
    "2 workers req/s",
    "**2 / 1**",
    "p99 µs 1 / 2",
    "connections per worker (2 workers, each run)",
    "ok runs"
  ]
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((_, i) => (i < 2 ? "---" : "---:")).join("|") + "|"]
  for (const r of rows) {
    const one = r.byWorkers[1], two = r.byWorkers[2]
    const m1 = median(one.rps), m2 = median(two.rps)
    lines.push(
      "| " +
        [
          SERVICES[r.service].label,
          LABEL[r.runtime],
          withSpread(one.rps, fmtInt),
          withSpread(two.rps, fmtInt),
          `**${fmtRatio(m1 && m2 ? m2 / m1 : null)}**`,
          `${fmtInt(median(one.p99))} / ${fmtInt(median(two.p99))}`,
          two.spread.join(" · ") || "–",
          `${one.rps.length}/${one.runs} · ${two.rps.length}/${two.runs}`
        ].join(" | ") + " |"
    )
  }
  return lines.join("\n")
}

// ---------------------------------------------------------------------------
// Part 2: chat fan-out, in-process groups vs the Redis backplane
// ---------------------------------------------------------------------------

const FANOUT_CONFIGS = [
  { id: "1w", label: "1 worker, in-process groups", workers: 1, redis: false },
  { id: "1w-redis", label: "1 worker, Redis backplane", workers: 1, redis: true },
  { id: "2w-redis", label: "2 workers, Redis backplane", workers: 2, redis: true }
]

async function startRedis() {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wirekit-scale-redis-"))
  try {
    const srv = await startServer(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        HOST,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--protected-mode",
        "no"
      ],
      /Ready to accept connections/,
      REDIS_READY_MS
    )
    return { ...srv, port, dir }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw e
  }
}

/**
 * Runs the client role (a process of this file) against the chat on `port`; resolves its
 * RESULT. Once its members are in the room it prints SETTLED and waits for a line on its
 * stdin: `onSettled` runs in between (nothing else is moving then).
 */
function runFanoutClient(port, opts, onSettled) {
  const args = [
    SELF,
    "--role",
    "client",
    "--port",
    String(port),
    "--members",
    String(opts.members),
    "--messages",
    String(opts.messages),
    "--warmup-messages",
    String(opts.warmupMessages),
    "--windows",
    opts.windows.join(",")
  ]
  // connects, settles, warmup and every window, each bounded inside the client; this is the backstop
  const timeoutMs = 60_000 + opts.windows.length * 35_000
  return new Promise((resolve) => {
    const child = spawnGroup(NODE, args, ["pipe", "pipe", "pipe"])
    let out = "", err = "", settled = false
    child.stdin.on("error", () => {}) // a client that died before reading it
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out = tail(out + d, 20_000)
      if (!settled && /^SETTLED$/m.test(out)) {
        settled = true
        onSettled()
        child.stdin.write("go\n")
      }
    })
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err = tail(err + d, 2000)
    })
    const timer = setTimeout(() => killGroup(child, "SIGKILL"), timeoutMs)
    child.once("exit", (code, sig) => {
      clearTimeout(timer)
      const line = out.match(/^RESULT (.+)$/m)?.[1]
      let json = null
      try {
        json = JSON.parse(line)
      } catch {}
      if (code === 0 && json) return resolve({ json })
      const why = out.match(/^ERROR (.+)$/m)?.[1] ??
        (sig ? `killed by ${sig} (timeout ${timeoutMs / 1000} s?)` : tail((err || out).trim(), 300))
      resolve({ error: `client exit ${code}: ${why}` })
    })
  })
}

async function fanoutRun(rt, config, opts) {
  const port = await freePort()
  let redis = null
  const t0 = Date.now()
  try {
    if (config.redis) redis = await startRedis()
    const args = ["--host", HOST, "--port", String(port), "--workers", String(config.workers)]
    if (redis) args.push("--backplane", `redis://${HOST}:${redis.port}`)
    const [cmd, argv] = runOn[rt](exampleEntry("chat", rt), args)
    let srv
    try {
      srv = await startServer(cmd, argv, config.workers > 1 ? WORKERS_READY : /chat: listening on/)
    } catch (e) {
      return { ok: false, error: e.message }
    }
    const startMs = Date.now() - t0
    let spread = null
    const c = await runFanoutClient(port, opts, () => {
      spread = connectionSpread(srv.child.pid, port, config.workers)
    })
    const died = exited(srv.child)
    await stop(srv.child)
    if (c.error || died) {
      return {
        ok: false,
        startMs,
        error: died ? `server died during the run; ${c.error ?? ""}` : c.error,
        serverOutput: tail(srv.output(), 800)
      }
    }
    return { ok: true, startMs, spread, ...c.json }
  } finally {
    if (redis) {
      await stop(redis.child)
      fs.rmSync(redis.dir, { recursive: true, force: true })
    }
  }
}

function fanoutTable(rows, opts) {
  const head = [
    "runtime",
    "groups",
    "window",
    "deliveries/s",
    "**/ in-process**",
    "p50 ms",
    "p99 ms",
    "last member ms (median)",
    "client CPU",
    "connections per worker (each run)",
    "ok runs"
  ]
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((_, i) => (i < 3 ? "---" : "---:")).join("|") + "|"]
  for (const r of rows) {
    const base = rows.find((x) => x.runtime === r.runtime && x.window === r.window && x.config === "1w")
    const m = median(r.rate), b = base ? median(base.rate) : null
    lines.push(
      "| " + [
        LABEL[r.runtime],
        FANOUT_CONFIGS.find((c) => c.id === r.config).label,
        String(r.window),
        withSpread(r.rate, fmtInt),
        r.config === "1w" ? "1.00×" : `**${fmtRatio(m && b ? m / b : null)}**`,
        fmtMs(median(r.p50)),
        fmtMs(median(r.p99)),
        fmtMs(median(r.last)),
        r.cpu.length ? `${Math.round(median(r.cpu))}%` : "–",
        FANOUT_CONFIGS.find((c) => c.id === r.config).workers > 1
          ? r.spread.join(" · ") || "–"
          : "–",
        `${r.rate.length}/${r.runs}`
      ].join(" | ") + " |"
    )
  }
  return lines.join("\n")
}

// ---------------------------------------------------------------------------
// The client role: members and a sender on one chat server
// ---------------------------------------------------------------------------

async function clientMain(argv) {
  const arg = (k) => argv[argv.indexOf(`--${k}`) + 1]
  const port = Number(arg("port")),
    N = Number(arg("members")),
    M = Number(arg("messages")),
    W0 = Number(arg("warmup-messages"))
  const windows = arg("windows").split(",").map(Number)
  const CONNECT_CONCURRENCY = 100, CONNECT_MS = 30_000, SETTLE_QUIET_MS = 500, SETTLE_MAX_MS = 30_000, PHASE_MS = 30_000
  const SENDER = "scalesender"
  const fail = (msg) => {
    process.stdout.write(`ERROR ${msg}\n`)
    process.exit(1)
  }
  const now = () => process.hrtime.bigint()
  let lastLineAt = Date.now()
  // the phase being sent: { id, sent: send time per seq (ns), got: receipts per seq, done: messages every member has,
  // lat: latencies (ms) or null in the warmup, k: latencies so far, lastAt: the last receipt per seq (ns), onDone }
  let phase = null
  let orderErrors = 0

  /** A line arrived at connection `m` (a member, or the sender: it never gets its own lines). */
  const onMemberLine = (m, line) => {
    lastLineAt = Date.now()
    if (!m.welcomed) {
      if (line.startsWith("* welcome")) {
        m.welcomed = true
        m.onWelcome?.()
      }
      return
    }
    if (!line.startsWith(`<${SENDER}> m `)) return
    const t = now()
    const [, , ph, seqText] = line.split(" ")
    const p = phase
    if (p === null || Number(ph) !== p.id) return // a line of an earlier phase (cannot happen after its completion)
    const seq = Number(seqText)
    if (m.phase !== p.id) {
      m.phase = p.id
      m.expect = 0
    }
    if (seq !== m.expect) orderErrors++
    m.expect = seq + 1
    if (p.lat) p.lat[p.k++] = Number(t - p.sent[seq]) / 1e6
    if (++p.got[seq] === N) {
      p.lastAt[seq] = t
      p.done++
      p.onDone()
    }
  }

  const connectOne = (m) =>
    new Promise((resolve) => {
      const s = net.connect({ host: HOST, port })
      m.sock = s
      s.setNoDelay(true)
      s.setEncoding("latin1")
      let buf = ""
      s.on("data", (d) => {
        buf += d
        let i
        while ((i = buf.indexOf("\n")) >= 0) {
          const end = i > 0 && buf.charCodeAt(i - 1) === 13 ? i - 1 : i
          onMemberLine(m, buf.slice(0, end))
          buf = buf.slice(i + 1)
        }
        if (buf.length > 64 * 1024) fail("a line of over 64 KiB from the server")
      })
      s.on("error", (e) => {
        m.error = e.message
      })
      s.on("close", () => {
        m.closed = true
        if (!m.welcomed) resolve(false)
      })
      m.onWelcome = () => resolve(true)
    })

  const members = Array.from({ length: N }, () => ({ welcomed: false, phase: -1, expect: 0 }))
  const deadline = Date.now() + CONNECT_MS
  let next = 0, failed = 0
  const worker = async () => {
    while (next < N && Date.now() < deadline) {
      const m = members[next++]
      const ok = await Promise.race([connectOne(m), sleep(Math.max(0, deadline - Date.now())).then(() => false)])
      if (!ok) failed++
    }
  }
  const tc = Date.now()
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, N) }, worker))
  const welcomed = members.filter((m) => m.welcomed).length
  if (welcomed !== N) {
    fail(
      `${welcomed} of ${N} members welcomed within ${CONNECT_MS / 1000} s (${failed} failed; ${
        members.find((m) => m.error)?.error ?? "no socket error"
      })`
    )
  }
  const connectS = (Date.now() - tc) / 1000

  // the sender: one more connection in the room, renamed so that members know its lines
  const sender = { welcomed: false, phase: -1, expect: 0 }
  if (!(await Promise.race([connectOne(sender), sleep(10_000).then(() => false)]))) {
    fail("the sender was not welcomed within 10 s")
  }
  const renamed = new Promise((resolve) => {
    const onData = (d) => {
      if (d.includes(`+ you are now ${SENDER}`)) {
        sender.sock.off("data", onData)
        resolve(true)
      }
    }
    sender.sock.on("data", onData)
  })
  sender.sock.write(`/nick ${SENDER}\n`)
  if (!(await Promise.race([renamed, sleep(10_000).then(() => false)]))) {
    fail("the sender's /nick was not confirmed within 10 s")
  }

  // settle: the join and rename notices (N² / 2 lines) have been delivered
  const ts = Date.now()
  while (Date.now() - lastLineAt < SETTLE_QUIET_MS && Date.now() - ts < SETTLE_MAX_MS) await sleep(100)
  const settleS = (Date.now() - ts) / 1000

  // the driver reads how the members are spread over the workers, then says go (or 10 s pass)
  process.stdout.write("SETTLED\n")
  await new Promise((resolve) => {
    const t = setTimeout(resolve, 10_000)
    process.stdin.once("data", () => {
      clearTimeout(t)
      resolve()
    })
  })
  process.stdin.pause()

  const runPhase = (id, count, window, measure) =>
    new Promise((resolve) => {
      const p = {
        id,
        sent: new Array(count),
        got: new Int32Array(count),
        lastAt: new Array(count),
        done: 0,
        lat: measure ? new Float64Array(count * N) : null,
        k: 0,
        onDone: () => {}
      }
      let sentCount = 0
      const cpu0 = process.cpuUsage()
      let t0 = null
      const pump = () => {
        let batch = ""
        while (sentCount < count && sentCount - p.done < window) {
          const t = now()
          t0 ??= t
          p.sent[sentCount] = t
          batch += `m ${id} ${sentCount} ${t}\n`
          sentCount++
        }
        if (batch) sender.sock.write(batch)
      }
      const timer = setTimeout(
        () =>
          finish(`${count - p.done} of ${count} messages not delivered to every member within ${PHASE_MS / 1000} s`),
        PHASE_MS
      )
      const finish = (error) => {
        clearTimeout(timer)
        phase = null
        if (error) return resolve({ error })
        const seconds = Number(now() - t0) / 1e9
        const cpu = process.cpuUsage(cpu0)
        const lat = p.lat ? p.lat.subarray(0, p.k).sort() : null
        const q = (f) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))]
        const last = p.lastAt.map((t, i) => Number(t - p.sent[i]) / 1e6)
        resolve({
          window,
          messages: count,
          deliveries: count * N,
          seconds,
          rate: (count * N) / seconds,
          p50_ms: lat ? q(0.5) : null,
          p99_ms: lat ? q(0.99) : null,
          max_ms: lat ? lat[lat.length - 1] : null,
          last_member_median_ms: median(last),
          client_cpu_pct: (100 * (cpu.user + cpu.system)) / 1e6 / seconds
        })
      }
      p.onDone = () => (p.done === count ? finish(null) : pump())
      phase = p
      pump()
    })

  const results = []
  let id = 0
  const warm = await runPhase(id++, W0, Math.max(...windows), false)
  if (warm.error) fail(`warmup: ${warm.error}`)
  for (const w of windows) {
    const r = await runPhase(id++, M, w, true)
    if (r.error) fail(`window ${w}: ${r.error}`)
    results.push(r)
  }
  if (orderErrors) fail(`${orderErrors} lines out of order or missing at a member`)
  const closedEarly = members.filter((m) => m.closed).length
  if (closedEarly) fail(`${closedEarly} members were disconnected during the run`)
  process.stdout.write(
    `RESULT ${JSON.stringify({ members: N, connect_s: connectS, settle_s: settleS, windows: results })}\n`
  )
  for (const m of [...members, sender]) m.sock.destroy()
  process.exit(0)
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2)
  if (argv[0] === "--role" && argv[1] === "client") return clientMain(argv)
  const opts = parseArgs(argv)
  const missing = { bun: !fs.existsSync(BUN), deno: !fs.existsSync(DENO) }
  const runtimes = opts.runtimes.filter((rt) => {
    if (missing[rt]) console.warn(`warning: ${rt} skipped: ${path.relative(ROOT, rt === "bun" ? BUN : DENO)} not found`)
    return !missing[rt]
  })
  const fanout = opts.parts.includes("fanout")
  const redisMissing = fanout && spawnSync("redis-server", ["--version"], { timeout: 5000 }).status !== 0
  if (redisMissing) console.warn("warning: redis-server not found: the fan-out part runs without its backplane rows")
  const configs = FANOUT_CONFIGS.filter((c) => !c.redis || !redisMissing)

  const tpCells = opts.parts.includes("throughput")
    ? runtimes.flatMap((rt) =>
      Object.keys(SERVICES).flatMap((s) => [1, 2].map((w) => ({ rt, service: s, workers: w })))
    )
    : []
  const foCells = fanout ? runtimes.flatMap((rt) => configs.map((config) => ({ rt, config }))) : []
  const startS = (rt, workers) => (rt === "node" ? 3 : 0.6) * (rt === "node" ? 1 : workers)
  const est = opts.runs * (tpCells.reduce((s, c) => s + opts.duration + opts.warmup + 1 + startS(c.rt, c.workers), 0) +
    foCells.reduce(
      (s, c) =>
        s + startS(c.rt, c.config.workers) + 2 + opts.members / 150 + (opts.members / 1000) ** 2 * 4 +
        opts.windows.length * 3 * (opts.messages / 200) * (opts.members / 1000),
      0
    ))
  console.log(
    `scale: ${opts.runs} run(s); throughput ${tpCells.length} cell(s) (loadgen ${LOAD.conns}×${LOAD.pipeline}, ${opts.duration} s + ${opts.warmup} s warmup, unpinned); ` +
      `fan-out ${foCells.length} cell(s) (${opts.members} members, ${opts.messages} messages per window, windows ${
        opts.windows.join(",")
      }); ` +
      `estimated ~${Math.ceil(est / 60)} min (on an idle machine)`
  )
  if (opts.list) {
    for (const c of tpCells) console.log(`  throughput ${c.service} ${c.rt} --workers ${c.workers}`)
    for (const c of foCells) console.log(`  fanout ${c.rt} ${c.config.label}`)
    return
  }
  if (tpCells.length) buildLoadgen()

  const busy = await cpuBusy(500)
  const notes = []
  if (busy != null && busy > 20) {
    notes.push(`machine was ${busy}% busy before the run; results may be disturbed by other load`)
    console.warn(`warning: ${notes.at(-1)}`)
  }
  const started = Date.now()
  const total = opts.runs * (tpCells.length + foCells.length)
  let done = 0, failed = 0
  const runs = []

  // throughput: interleaved run by run
  for (let i = 1; i <= opts.runs && tpCells.length; i++) {
    for (const c of tpCells) {
      const r = await throughputRun(c.rt, c.service, c.workers, opts)
      done++
      runs.push({ part: "throughput", ...c, run: i, ...r })
      if (!r.ok) failed++
      console.log(
        `[${done}/${total} throughput] ${c.service} ${c.rt} --workers ${c.workers} run ${i}/${opts.runs}: ` +
          (r.ok
            ? `${fmtInt(r.rps)} req/s  p50 ${fmtInt(r.p50_us)} µs  p99 ${
              fmtInt(r.p99_us)
            } µs  connections per process ${r.spread ?? "?"}  (start ${(r.startMs / 1000).toFixed(1)} s)`
            : `FAILED: ${r.error}`)
      )
      if (!r.ok && r.serverOutput) console.log(`    server: ${r.serverOutput.replace(/\n/g, "\n    ")}`)
    }
  }
  // fan-out: interleaved run by run
  for (let i = 1; i <= opts.runs && foCells.length; i++) {
    for (const c of foCells) {
      const r = await fanoutRun(c.rt, c.config, opts)
      done++
      runs.push({ part: "fanout", rt: c.rt, config: c.config.id, run: i, ...r })
      if (!r.ok) failed++
      const head = `[${done}/${total} fanout] ${c.rt} ${c.config.label} run ${i}/${opts.runs}:`
      if (!r.ok) {
        console.log(`${head} FAILED: ${r.error}`)
        if (r.serverOutput) console.log(`    server: ${r.serverOutput.replace(/\n/g, "\n    ")}`)
        continue
      }
      console.log(
        `${head} ${r.members} members connected in ${r.connect_s.toFixed(1)} s, settled in ${
          r.settle_s.toFixed(1)
        } s; ` +
          `connections per process ${r.spread ?? "?"} (start ${(r.startMs / 1000).toFixed(1)} s)`
      )
      for (const w of r.windows) {
        console.log(
          `    window ${w.window}: ${fmtInt(w.rate)} deliveries/s  p50 ${fmtMs(w.p50_ms)} ms  p99 ${
            fmtMs(w.p99_ms)
          } ms  ` +
            `last member ${fmtMs(w.last_member_median_ms)} ms (median)  client CPU ${Math.round(w.client_cpu_pct)}%`
        )
      }
    }
  }

  // medians
  const tpRows = []
  for (const rt of runtimes) {
    for (const service of Object.keys(SERVICES)) {
      const byWorkers = {}
      for (const w of [1, 2]) {
        const mine = runs.filter((r) =>
          r.part === "throughput" && r.rt === rt && r.service === service && r.workers === w
        )
        const ok = mine.filter((r) => r.ok)
        byWorkers[w] = {
          runs: mine.length,
          rps: ok.map((r) => r.rps),
          p99: ok.map((r) => r.p99_us),
          spread: ok.map((r) => r.spread ?? "?")
        }
      }
      if (byWorkers[1].runs) tpRows.push({ runtime: rt, service, byWorkers })
    }
  }
  const foRows = []
  for (const rt of runtimes) {
    for (const config of configs) {
      for (const window of opts.windows) {
        const mine = runs.filter((r) => r.part === "fanout" && r.rt === rt && r.config === config.id)
        const ws = mine.filter((r) => r.ok).map((r) => r.windows.find((x) => x.window === window)).filter(Boolean)
        if (!mine.length) continue
        const spread = mine.filter((r) => r.ok).map((r) => r.spread ?? "?")
        foRows.push({
          runtime: rt,
          config: config.id,
          window,
          runs: mine.length,
          spread,
          rate: ws.map((w) => w.rate),
          p50: ws.map((w) => w.p50_ms),
          p99: ws.map((w) => w.p99_ms),
          last: ws.map((w) => w.last_member_median_ms),
          cpu: ws.map((w) => w.client_cpu_pct)
        })
      }
    }
  }

  const machine = machineInfo()
  const git = gitInfo()
  const versions = [`Node ${process.version}`]
  if (runtimes.includes("bun")) versions.push(`Bun ${versionOf(BUN) ?? "?"}`)
  if (runtimes.includes("deno")) versions.push(`Deno ${versionOf(DENO) ?? "?"}`)
  if (fanout && !redisMissing) {
    versions.push(
      `redis ${spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout.match(/v=(\S+)/)?.[1] ?? "?"}`
    )
  }
  const date = new Date().toISOString()
  const meta =
    `_${date.slice(0, 10)}${
      git ? `, commit ${git.commit}${git.dirty ? " + local changes" : ""}` : ""
    }; ${machine.nproc} × ${machine.cpu}, ${machine.kernel}; ` +
    `${
      versions.join(", ")
    }; ${opts.runs} run(s) per cell (fresh server each), interleaved, unpinned; medians (± = half the min–max range).` +
    `${opts.quick ? " **Quick run: smoke test, not a measurement.**" : ""}_`
  const blocks = [meta, ...notes.map((n) => `_Warning: ${n}._`)]
  if (tpRows.length) {
    blocks.push(
      "",
      `Throughput, loadgen ${LOAD.conns} connections × ${LOAD.pipeline} in flight (framed: ${LOAD.size}-byte frames), ${opts.duration} s measured + ${opts.warmup} s warmup:`,
      "",
      throughputTable(tpRows)
    )
  }
  if (foRows.length) {
    blocks.push(
      "",
      `Chat fan-out, ${
        fmtInt(opts.members)
      } members + 1 sender in one room, ${opts.messages} messages per window (after ${opts.warmupMessages} unmeasured); ` +
        `window = messages not yet delivered to every member, at most:`,
      "",
      fanoutTable(foRows, opts)
    )
  }
  const block = blocks.join("\n")
  console.log(`\n${block}\n`)

  fs.mkdirSync(rel("bench/results"), { recursive: true })
  fs.writeFileSync(
    rel("bench/results/scale.json"),
    JSON.stringify(
      {
        date,
        machine,
        versions,
        git,
        options: opts,
        notes,
        runs,
        throughput: tpRows,
        fanout: foRows,
        readmeBlock: block
      },
      null,
      2
    ) + "\n"
  )
  console.log(`wrote bench/results/scale.json (total ${((Date.now() - started) / 60000).toFixed(1)} min)`)
  if (opts.writeReadme && writeReadmeSection(MARKERS, block)) console.log("updated bench/README.md (scale)")
  if (failed) {
    console.error(`${failed} run(s) failed`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  console.error(e)
  for (const c of live) killGroup(c, "SIGKILL")
  process.exit(1)
})
