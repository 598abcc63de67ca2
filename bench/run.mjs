#!/usr/bin/env node
// wirekit bench runner. See bench/README.md.
//
//   node bench/run.mjs [--suite echo] [--runs N] [--duration S] [--warmup S]
//                      [--cells a,b] [--servers x,y] [--quick] [--stand-in]
//                      [--write-readme]
//
// Builds the C programs into bench/build/, then for every cell of the suite runs
// each selected server in turn, interleaved run by run (A, B, A, B, ...): start the
// server pinned to CPU 1, wait for "LISTENING <port>", run the C load generator pinned
// to CPU 0 against it, stop the server. Medians per cell and server, throughput ratio
// against the suite's baseline server, bench/results/latest.json, a markdown table.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const rel = (p) => path.join(ROOT, p)

// ---------------------------------------------------------------------------
// Data: native programs, servers, suites. Extend here.
// ---------------------------------------------------------------------------

/** C programs built with `cc -O2` before every run (skipped when up to date). */
const NATIVE = [
  { name: "loadgen", src: "bench/loadgen/loadgen.c", out: "bench/build/loadgen", libs: ["-lm"] },
  { name: "c-echo", src: "bench/servers/c-echo.c", out: "bench/build/c-echo", libs: [] }
]

/**
 * Servers. `args` placeholders: {mode} (the cell's server mode: echo|sink),
 * {host}, {port} (always 0: the server picks a port and prints `LISTENING <port>`).
 * `requires`: file that must exist (otherwise skipped, or replaced by the suite
 * baseline with --stand-in). `optIn`: only run when named by --servers.
 */
const SERVERS = [
  {
    name: "raw-node",
    cmd: process.execPath,
    args: ["bench/servers/raw-node-echo.mjs", "--port", "{port}", "--host", "{host}", "--mode", "{mode}"],
    suites: ["echo"]
  },
  {
    name: "wirekit-node",
    cmd: process.execPath,
    args: ["--import", "tsx", "bench/servers/wirekit-node-echo.ts", "--port", "{port}", "--host", "{host}", "--mode", "{mode}"],
    requires: "bench/servers/wirekit-node-echo.ts",
    suites: ["echo"]
  },
  {
    name: "c-epoll",
    cmd: "bench/build/c-echo",
    args: ["--port", "{port}", "--host", "{host}", "--mode", "{mode}"],
    suites: ["echo"],
    optIn: true
  }
]

/**
 * Suites: a list of cells plus the baseline server ratios are computed against.
 * A cell = load generator settings (`load`) + the server mode it needs (`server.mode`).
 * Later suites (framed, RESP, Bun/Deno servers) are new entries here plus server rows.
 */
const SUITES = {
  echo: {
    title: "echo: raw byte echo (server does no framing)",
    baseline: "raw-node",
    cells: [
      { id: "1/64/1", load: { mode: "echo", conns: 1, size: 64, pipeline: 1 }, server: { mode: "echo" } },
      { id: "64/64/16", load: { mode: "echo", conns: 64, size: 64, pipeline: 16 }, server: { mode: "echo" } },
      { id: "64/4096/16", load: { mode: "echo", conns: 64, size: 4096, pipeline: 16 }, server: { mode: "echo" } },
      { id: "oneway", label: "oneway 16×64KiB", load: { mode: "oneway", conns: 16, size: 65536, pipeline: 1 }, server: { mode: "sink" } }
    ]
  }
}

const HOST = "127.0.0.1"
const READY_TIMEOUT_MS = 15_000
const KILL_GRACE_MS = 2_000
const BUILD_TIMEOUT_MS = 60_000
const README = "bench/README.md"
const MARK_START = "<!-- bench:echo:start -->"
const MARK_END = "<!-- bench:echo:end -->"
const BUDGET_S = 180
const PRESSURE_FLAG_PCT = 30 // CPU pressure during a run above this = other load disturbed it
const IDLE_BUSY_PCT = 15
const WAIT_IDLE_MAX_MS = 30_000

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

function usage(code) {
  const lines = [
    "usage: node bench/run.mjs [options]",
    "  --suite NAME        suite to run (default echo; available: " + Object.keys(SUITES).join(", ") + ")",
    "  --runs N            runs per cell per server (default 3)",
    "  --duration S        measured seconds per run (default 5)",
    "  --warmup S          warmup seconds per run (default 1)",
    "  --cells a,b         cell ids (default all), e.g. 64/64/16,oneway",
    "  --servers x,y       servers (default: all non-opt-in for the suite); names: " + SERVERS.map((s) => s.name).join(", "),
    "  --quick             1 run x 2 s (+0.5 s warmup) smoke run; same as BENCH_QUICK=1",
    "  --stand-in          run the baseline's command in place of servers whose file is missing",
    "  --write-readme      replace the table between the bench markers in bench/README.md",
    "  --wait-idle         before each run wait (max 30 s) until the machine is <15% busy (unbounded total time!)",
    "  --help"
  ]
  ;(code ? process.stderr : process.stdout).write(lines.join("\n") + "\n")
  process.exit(code)
}

function parseArgs(argv) {
  const o = { suite: "echo", runs: undefined, duration: undefined, warmup: undefined, cells: undefined, servers: undefined,
    quick: process.env.BENCH_QUICK === "1", standIn: false, writeReadme: false, waitIdle: false }
  const num = (k, v, min) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) { console.error(`bad value for ${k}: ${v}`); usage(2) }
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const val = () => {
      if (i + 1 >= argv.length) { console.error(`missing value for ${a}`); usage(2) }
      return argv[++i]
    }
    switch (a) {
      case "--suite": o.suite = val(); break
      case "--runs": o.runs = Math.floor(num(a, val(), 1)); break
      case "--duration": o.duration = num(a, val(), 0.5); break
      case "--warmup": o.warmup = num(a, val(), 0); break
      case "--cells": o.cells = val().split(",").map((s) => s.trim()).filter(Boolean); break
      case "--servers": o.servers = val().split(",").map((s) => s.trim()).filter(Boolean); break
      case "--quick": o.quick = true; break
      case "--stand-in": o.standIn = true; break
      case "--write-readme": o.writeReadme = true; break
      case "--wait-idle": o.waitIdle = true; break
      case "--help": case "-h": usage(0); break
      default: console.error(`unknown option ${a}`); usage(2)
    }
  }
  o.runs ??= o.quick ? 1 : 3
  o.duration ??= o.quick ? 2 : 5
  o.warmup ??= o.quick ? 0.5 : 1
  return o
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmtInt = (n) => Math.round(n).toLocaleString("en-US")
const fmtUs = (n) => (n == null ? "–" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1))
const tail = (s, n = 1500) => (s.length > n ? "…" + s.slice(-n) : s)

/** Live child processes, killed if the runner itself is interrupted. */
const live = new Set()
function track(child) {
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    for (const c of live) { try { c.kill("SIGKILL") } catch {} }
    console.error(`\ninterrupted (${sig}); children killed`)
    process.exit(130)
  })
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.off("exit", onExit); resolve(false) }, ms)
    const onExit = () => { clearTimeout(t); resolve(true) }
    child.once("exit", onExit)
  })
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  if (await waitExit(child, KILL_GRACE_MS)) return
  child.kill("SIGKILL")
  await waitExit(child, KILL_GRACE_MS)
}

function gitInfo() {
  const run = (args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 5000 })
  const head = run(["rev-parse", "--short", "HEAD"])
  if (head.error || head.status !== 0) return null
  const dirty = run(["status", "--porcelain", "--untracked-files=no"])
  return { commit: head.stdout.trim(), dirty: dirty.status === 0 && dirty.stdout.trim() !== "" }
}

function machineInfo() {
  let cpu = "unknown"
  try {
    const m = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)
    if (m) cpu = m[1].trim()
  } catch {}
  const nproc = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length
  return { nproc, cpu, node: process.version, kernel: `${os.type()} ${os.release()}`, arch: process.arch }
}

/** Percentage of non-idle CPU time over `ms`, from /proc/stat (null if unavailable). */
async function cpuBusy(ms) {
  const read = () => {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    const idle = f[3] + (f[4] || 0)
    return { idle, total: f.reduce((a, b) => a + b, 0) }
  }
  try {
    const a = read()
    await sleep(ms)
    const b = read()
    const dt = b.total - a.total
    return dt > 0 ? Math.round((100 * (dt - (b.idle - a.idle))) / dt) : null
  } catch {
    return null
  }
}

/** Cumulative µs some task waited for a CPU (/proc/pressure/cpu), or null without PSI. */
function cpuPressureTotalUs() {
  try {
    const m = fs.readFileSync("/proc/pressure/cpu", "utf8").match(/^some .*total=(\d+)/m)
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** With --wait-idle: wait (bounded) until the machine is quiet before a run. */
async function waitIdle(maxMs) {
  const deadline = Date.now() + maxMs
  let busy = await cpuBusy(500)
  while (busy != null && busy > IDLE_BUSY_PCT && Date.now() < deadline) busy = await cpuBusy(1000)
  return busy
}

function pinningAvailable(nproc) {
  if (nproc < 2) return { ok: false, why: `only ${nproc} CPU(s)` }
  const r = spawnSync("taskset", ["-c", "0,1", "true"], { timeout: 5000 })
  if (r.error) return { ok: false, why: "taskset not found" }
  if (r.status !== 0) return { ok: false, why: `taskset failed: ${String(r.stderr).trim()}` }
  return { ok: true }
}

function build() {
  fs.mkdirSync(rel("bench/build"), { recursive: true })
  for (const p of NATIVE) {
    const src = rel(p.src), out = rel(p.out), stamp = `${out}.stamp`
    const args = ["-O2", "-Wall", "-o", out, src, ...p.libs]
    const shown = args.map((a) => (path.isAbsolute(a) ? path.relative(ROOT, a) : a))
    // rebuild unless the binary was built from exactly this source with these flags
    const key = createHash("sha256").update(fs.readFileSync(src)).update(JSON.stringify(shown)).digest("hex")
    if (fs.existsSync(out) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === key) continue
    console.log(`build: cc ${shown.join(" ")}`)
    const r = spawnSync("cc", args, { cwd: ROOT, encoding: "utf8", timeout: BUILD_TIMEOUT_MS })
    if (r.error || r.status !== 0) {
      console.error(`build of ${p.name} failed: ${r.error ? r.error.message : r.stderr}`)
      process.exit(1)
    }
    if (r.stderr.trim()) console.error(r.stderr.trim())
    fs.writeFileSync(stamp, key)
  }
}

// ---------------------------------------------------------------------------
// One run: start server, wait for LISTENING, run loadgen, stop server.
// ---------------------------------------------------------------------------

function expand(args, vars) {
  return args.map((a) => a.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)))
}

function startServer(server, cell, pin) {
  const cmd = server.cmd.includes("/") && !path.isAbsolute(server.cmd) ? rel(server.cmd) : server.cmd
  const args = expand(server.args, { mode: cell.server.mode, host: HOST, port: 0 })
  const [file, argv] = pin ? ["taskset", ["-c", "1", cmd, ...args]] : [cmd, args]
  const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }))
  let stderr = ""
  child.stderr.setEncoding("utf8")
  child.stderr.on("data", (d) => { stderr = tail(stderr + d, 4000) })
  const ready = new Promise((resolve) => {
    let buf = ""
    let done = false
    const finish = (v) => { if (!done) { done = true; clearTimeout(timer); resolve(v) } }
    const timer = setTimeout(() => finish({ error: `no LISTENING line within ${READY_TIMEOUT_MS / 1000}s` }), READY_TIMEOUT_MS)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (d) => {
      if (done) return // keep draining
      buf += d
      const m = buf.match(/^LISTENING (\d+)\s*$/m)
      if (m) finish({ port: Number(m[1]) })
      else if (buf.length > 64 * 1024) buf = buf.slice(-1024)
    })
    child.once("error", (e) => finish({ error: `spawn failed: ${e.message}` }))
    child.once("exit", (code, sig) => finish({ error: `server exited before LISTENING (code ${code}, signal ${sig})` }))
  })
  return { child, ready, stderr: () => stderr }
}

function runLoadgen(cell, port, opts, pin) {
  const l = cell.load
  const args = ["--host", HOST, "--port", String(port), "--conns", String(l.conns), "--size", String(l.size),
    "--pipeline", String(l.pipeline), "--duration", String(opts.duration), "--warmup", String(opts.warmup),
    "--mode", l.mode, "--json"]
  const bin = rel("bench/build/loadgen")
  const [file, argv] = pin ? ["taskset", ["-c", "0", bin, ...args]] : [bin, args]
  const timeoutMs = (opts.duration + opts.warmup + 10) * 1000
  return new Promise((resolve) => {
    const child = track(spawn(file, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }))
    let out = "", err = ""
    child.stdout.setEncoding("utf8").on("data", (d) => { out += d })
    child.stderr.setEncoding("utf8").on("data", (d) => { err = tail(err + d, 4000) })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("error", (e) => { clearTimeout(timer); resolve({ code: -1, error: `loadgen spawn failed: ${e.message}` }) })
    child.once("close", (code, sig) => {
      clearTimeout(timer)
      let json = null
      const line = out.trim().split("\n").pop()
      try { json = JSON.parse(line) } catch {}
      resolve({ code, sig, json, stderr: err, raw: out })
    })
  })
}

async function oneRun(server, cell, opts, pin) {
  if (opts.waitIdle) await waitIdle(WAIT_IDLE_MAX_MS)
  const t0 = Date.now()
  const srv = startServer(server, cell, pin)
  const ready = await srv.ready
  const startMs = Date.now() - t0
  if (ready.error) {
    await stop(srv.child)
    return { ok: false, startMs, error: ready.error, serverStderr: srv.stderr() }
  }
  const psi0 = cpuPressureTotalUs(), w0 = Date.now()
  const lg = await runLoadgen(cell, ready.port, opts, pin)
  const psi1 = cpuPressureTotalUs(), w1 = Date.now()
  const cpuPressurePct = psi0 != null && psi1 != null && w1 > w0 ? Math.round((psi1 - psi0) / 10 / (w1 - w0)) : null
  const serverDied = srv.child.exitCode !== null || srv.child.signalCode !== null
  await stop(srv.child)
  const res = { ok: false, wallMs: Date.now() - t0, startMs, cpuPressurePct, result: lg.json ?? undefined }
  if (lg.code === 0 && lg.json && !lg.json.error && !serverDied) {
    res.ok = true
  } else {
    res.error = lg.json?.error ?? lg.error ?? (lg.sig ? `loadgen killed by ${lg.sig}` : `loadgen exit ${lg.code}: ${tail(lg.stderr || lg.raw || "", 300)}`)
    if (serverDied) res.error = `server died during the run; ${res.error ?? ""}`
    res.serverStderr = srv.stderr()
  }
  return res
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

const throughputOf = (cell, r) => (cell.load.mode === "oneway" ? r.mb_per_s : r.rps)
const unitOf = (cell) => (cell.load.mode === "oneway" ? "MB/s" : "req/s")

function fmtThroughput(cell, v) {
  if (v == null) return "–"
  return cell.load.mode === "oneway" ? `${v.toLocaleString("en-US", { maximumFractionDigits: 0 })} MB/s` : `${fmtInt(v)} req/s`
}

function describeRun(cell, r) {
  if (!r.ok) return `FAILED: ${r.error}`
  const j = r.result
  return cell.load.mode === "oneway"
    ? `${fmtThroughput(cell, j.mb_per_s)}`
    : `${fmtThroughput(cell, j.rps)}  p50 ${fmtUs(j.p50_us)} µs  p99 ${fmtUs(j.p99_us)} µs`
}

function summarize(suite, cells, servers, runs) {
  const rows = []
  for (const cell of cells) {
    const base = []
    for (const s of servers) {
      const mine = runs.filter((r) => r.cell === cell.id && r.server === s.name)
      const ok = mine.filter((r) => r.ok).map((r) => r.result)
      const total = mine.length
      const tp = ok.map((j) => throughputOf(cell, j))
      const row = {
        cell: cell.id, label: cell.label ?? cell.id, server: s.name, standIn: s.standIn ?? null, unit: unitOf(cell),
        okRuns: ok.length, runs: total,
        throughput: median(tp),
        min: tp.length ? Math.min(...tp) : null,
        max: tp.length ? Math.max(...tp) : null,
        p50_us: cell.load.mode === "oneway" ? null : median(ok.map((j) => j.p50_us)),
        p99_us: cell.load.mode === "oneway" ? null : median(ok.map((j) => j.p99_us)),
        samples: tp,
        disturbedRuns: mine.filter((r) => r.cpuPressurePct != null && r.cpuPressurePct > PRESSURE_FLAG_PCT).length
      }
      base.push(row)
    }
    const b = base.find((r) => r.server === suite.baseline)
    for (const r of base) {
      r.ratio = b && b.throughput && r.throughput != null ? r.throughput / b.throughput : null
      rows.push(r)
    }
  }
  return rows
}

function markdownTable(suite, rows) {
  const hasBase = rows.some((r) => r.server === suite.baseline)
  const head = ["cell (conns/size/pipeline)", "server", "throughput (median)", "spread", "p50 µs", "p99 µs"]
  if (hasBase) head.push(`vs ${suite.baseline}`)
  head.push("ok runs")
  const lines = ["| " + head.join(" | ") + " |", "|" + head.map((h, i) => (i < 2 ? "---" : "---:")).join("|") + "|"]
  for (const r of rows) {
    const cellObj = { load: { mode: r.unit === "MB/s" ? "oneway" : "echo" } }
    const spread = r.throughput && r.samples.length > 1 ? `±${((50 * (r.max - r.min)) / r.throughput).toFixed(1)}%` : "–"
    const name = r.standIn ? `${r.server}† (= ${r.standIn})` : r.server
    const cols = [r.label, name, fmtThroughput(cellObj, r.throughput), spread, fmtUs(r.p50_us), fmtUs(r.p99_us)]
    if (hasBase) cols.push(r.ratio == null ? "–" : `${r.ratio.toFixed(2)}×`)
    cols.push(`${r.okRuns}/${r.runs}`)
    lines.push("| " + cols.join(" | ") + " |")
  }
  return lines.join("\n")
}

function writeReadme(block) {
  const file = rel(README)
  const text = fs.readFileSync(file, "utf8")
  const a = text.indexOf(MARK_START), b = text.indexOf(MARK_END)
  if (a < 0 || b < a) {
    console.error(`--write-readme: markers ${MARK_START} … ${MARK_END} not found in ${README}`)
    return false
  }
  const next = text.slice(0, a + MARK_START.length) + "\n" + block + "\n" + text.slice(b)
  fs.writeFileSync(file, next)
  return true
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const suite = SUITES[opts.suite]
  if (!suite) { console.error(`unknown suite ${opts.suite}`); usage(2) }

  let cells = suite.cells
  if (opts.cells) {
    const unknown = opts.cells.filter((id) => !suite.cells.some((c) => c.id === id))
    if (unknown.length) { console.error(`unknown cell(s): ${unknown.join(", ")}; available: ${suite.cells.map((c) => c.id).join(", ")}`); process.exit(2) }
    cells = suite.cells.filter((c) => opts.cells.includes(c.id))
  }

  const inSuite = SERVERS.filter((s) => s.suites.includes(opts.suite))
  if (opts.servers) {
    const unknown = opts.servers.filter((n) => !inSuite.some((s) => s.name === n))
    if (unknown.length) { console.error(`unknown server(s) for suite ${opts.suite}: ${unknown.join(", ")}; available: ${inSuite.map((s) => s.name).join(", ")}`); process.exit(2) }
  }
  const notes = []
  const baselineDef = inSuite.find((s) => s.name === suite.baseline)
  let servers = []
  for (const s of inSuite) {
    if (opts.servers ? !opts.servers.includes(s.name) : s.optIn) continue
    if (s.requires && !fs.existsSync(rel(s.requires))) {
      if (opts.standIn && baselineDef) {
        const note = `${s.name}: ${s.requires} not found; running ${baselineDef.name}'s command in its place (--stand-in)`
        console.warn(`warning: ${note}`)
        notes.push(note)
        servers.push({ ...baselineDef, name: s.name, standIn: baselineDef.name })
      } else {
        const note = `${s.name}: ${s.requires} not found; skipped (pass --stand-in to run ${suite.baseline} in its place)`
        console.warn(`warning: ${note}`)
        notes.push(note)
      }
      continue
    }
    servers.push(s)
  }
  if (servers.length === 0) { console.error("no servers to run"); process.exit(2) }

  build()

  const machine = machineInfo()
  const git = gitInfo()
  const pinning = pinningAvailable(machine.nproc)
  if (!pinning.ok) {
    const note = `running UNPINNED (${pinning.why}); numbers are less stable`
    console.warn(`warning: ${note}`)
    notes.push(note)
  }
  const busy = await cpuBusy(500)
  if (busy != null && busy > 20) {
    const note = `machine was ${busy}% busy before the run; results may be disturbed by other load`
    console.warn(`warning: ${note}`)
    notes.push(note)
  }

  const perRun = opts.warmup + opts.duration + 0.8
  const estimate = Math.ceil(cells.length * servers.length * opts.runs * perRun)
  console.log(`suite ${opts.suite}: ${cells.length} cell(s) × ${servers.length} server(s) [${servers.map((s) => s.name).join(", ")}] × ${opts.runs} run(s), ` +
    `${opts.duration}s + ${opts.warmup}s warmup each, pinned: ${pinning.ok ? "server CPU 1, loadgen CPU 0" : "no"}; estimated ~${estimate}s`)
  if (estimate > BUDGET_S) console.warn(`note: estimated time exceeds ${BUDGET_S}s`)

  const started = Date.now()
  const runs = []
  for (const cell of cells) {
    for (let i = 1; i <= opts.runs; i++) {
      for (const s of servers) {
        const r = await oneRun(s, cell, opts, pinning.ok)
        runs.push({ cell: cell.id, server: s.name, run: i, ...r })
        const tag = `[${opts.suite} ${cell.label ?? cell.id}] ${s.name}${s.standIn ? "†" : ""} run ${i}/${opts.runs}:`
        const disturbed = r.cpuPressurePct != null && r.cpuPressurePct > PRESSURE_FLAG_PCT
        const start = r.startMs != null ? `  (server start ${(r.startMs / 1000).toFixed(1)} s)` : ""
        console.log(`${tag} ${describeRun(cell, r)}${start}${disturbed ? `  [cpu pressure ${r.cpuPressurePct}%: other load?]` : ""}`)
        if (!r.ok && r.serverStderr) console.log(`    server stderr: ${tail(r.serverStderr, 600).replace(/\n/g, "\n    ")}`)
      }
    }
  }
  const elapsed = (Date.now() - started) / 1000

  const rows = summarize(suite, cells, servers, runs)
  const table = markdownTable(suite, rows)
  const date = new Date().toISOString()
  const result = {
    date, suite: opts.suite, machine, git,
    pinned: pinning.ok ? { server: 1, loadgen: 0 } : false,
    preflightBusyPct: busy,
    config: { runs: opts.runs, duration_s: opts.duration, warmup_s: opts.warmup, cells: cells.map((c) => ({ id: c.id, ...c.load, serverMode: c.server.mode })),
      servers: servers.map((s) => ({ name: s.name, standIn: s.standIn ?? null, cmd: [path.basename(s.cmd), ...s.args].join(" ") })) },
    notes, elapsedSeconds: elapsed, summary: rows, runs
  }
  fs.mkdirSync(rel("bench/results"), { recursive: true })
  fs.writeFileSync(rel("bench/results/latest.json"), JSON.stringify(result, null, 2) + "\n")

  const standIns = servers.filter((s) => s.standIn)
  const gitText = git ? `, commit ${git.commit}${git.dirty ? " + local changes" : ""}` : ""
  const disturbed = runs.filter((r) => r.cpuPressurePct != null && r.cpuPressurePct > PRESSURE_FLAG_PCT).length
  const meta = [
    `_Suite \`${opts.suite}\`, ${date.slice(0, 10)}${gitText}; ${machine.nproc} × ${machine.cpu}, Node ${machine.node}, ${machine.kernel}; ` +
      `${opts.runs} run(s) per cell per server, ${opts.duration} s measured + ${opts.warmup} s warmup, interleaved; ` +
      (pinning.ok ? "server pinned to CPU 1, loadgen to CPU 0" : "unpinned") +
      (opts.waitIdle ? "; waited (≤30 s) for an idle machine before each run" : "") + "; medians._",
    ...standIns.map((s) => `_† **${s.name} is a stand-in**: its server file did not exist, so ${s.standIn}'s command ran under its name. The ratio only shows run-to-run noise, not wirekit's cost._`),
    ...(busy != null && busy > 20 ? [`_Warning: the machine was ${busy}% busy before the run._`] : []),
    ...(disturbed ? [`_Warning: ${disturbed} of ${runs.length} runs saw CPU pressure above ${PRESSURE_FLAG_PCT}% (other processes competing for the pinned CPUs); see \`runs[].cpuPressurePct\` in latest.json._`] : [])
  ]
  const block = [...meta, "", table].join("\n")

  console.log(`\n${table}\n`)
  for (const n of notes) console.log(`note: ${n}`)
  console.log(`wrote bench/results/latest.json (${elapsed.toFixed(0)} s)`)
  if (opts.writeReadme && writeReadme(block)) console.log(`updated ${README}`)

  const failed = runs.filter((r) => !r.ok).length
  if (failed) {
    console.error(`${failed} run(s) failed`)
    process.exitCode = 1
  }
}

main().catch((e) => {
  console.error(e)
  for (const c of live) { try { c.kill("SIGKILL") } catch {} }
  process.exit(1)
})
