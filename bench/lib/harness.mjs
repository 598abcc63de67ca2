// What the bench drivers share (bench/udp.mjs, bench/scale.mjs): statistics and formatting,
// child processes in their own process groups (killed if the driver is interrupted), servers
// started until a "ready" line, C load generators built when out of date, machine facts, and
// README sections between markers.
import { spawn, spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const rel = (p) => path.join(ROOT, p)
export const NODE = process.execPath
export const BUN = rel("node_modules/.bin/bun")
export const DENO = rel("node_modules/.bin/deno")
export const LABEL = { node: "Node", bun: "Bun", deno: "Deno" }
export const CHILD_ENV = {
  ...process.env,
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  DENO_NO_UPDATE_CHECK: "1",
  DENO_NO_PROMPT: "1"
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
export const median = (xs) => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
/** Half the range as a percentage of the median (null for one sample). */
export const spreadPct = (xs) => (xs.length > 1 ? (50 * (Math.max(...xs) - Math.min(...xs))) / median(xs) : null)
export const fmtInt = (n) => (n == null ? "–" : Math.round(n).toLocaleString("en-US"))
export const fmtMs = (n) =>
  n == null ? "–" : n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2)
export const fmtRatio = (r) => (r == null ? "–" : `${r.toFixed(2)}×`)
export const withSpread = (xs, fmt) =>
  xs.length === 0 ? "–" : `${fmt(median(xs))}${xs.length > 1 ? ` ±${spreadPct(xs).toFixed(0)}%` : ""}`
export const tail = (s, n = 1500) => (s.length > n ? "…" + s.slice(-n) : s)
export const shellQuote = (s) => `'${String(s).replaceAll("'", "'\\''")}'`

/** Children, killed (with their process groups) if the driver is interrupted. */
export const live = new Set()
export const killGroup = (child, sig) => {
  try {
    process.kill(-child.pid, sig)
  } catch {
    try {
      child.kill(sig)
    } catch {}
  }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    for (const c of live) killGroup(c, "SIGKILL")
    console.error(`\ninterrupted (${sig}); children killed`)
    process.exit(130)
  })
}

/**
 * Starts `cmd args` in a process group of its own (so that a primary's workers can be
 * killed with it) with the open-files limit raised to the hard limit (sh's exec keeps the pid).
 */
export function spawnGroup(cmd, args, stdio = ["ignore", "pipe", "pipe"]) {
  const child = spawn("/bin/sh", [
    "-c",
    `ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec ${[cmd, ...args].map(shellQuote).join(" ")}`
  ], { cwd: ROOT, env: CHILD_ENV, stdio, detached: true })
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}

export const exited = (child) => child.exitCode !== null || child.signalCode !== null
export function waitExit(child, ms) {
  if (exited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off("exit", onExit)
      resolve(false)
    }, ms)
    const onExit = () => {
      clearTimeout(t)
      resolve(true)
    }
    child.once("exit", onExit)
  })
}

/** SIGTERM, then SIGKILL to the whole group after `graceMs`. */
export async function stop(child, graceMs = 12_000) {
  if (!exited(child)) {
    child.kill("SIGTERM")
    if (!(await waitExit(child, graceMs))) {
      killGroup(child, "SIGKILL")
      await waitExit(child, 2000)
    }
  }
  killGroup(child, "SIGKILL") // a worker left behind by a primary that died
}

/** Starts a server; resolves when `ready` matched its output (bounded), keeps draining it after. */
export async function startServer(cmd, args, ready, timeoutMs = 30_000) {
  const child = spawnGroup(cmd, args)
  let out = ""
  const result = await new Promise((resolve) => {
    let done = false
    const finish = (v) => {
      if (!done) {
        done = true
        clearTimeout(timer)
        resolve(v)
      }
    }
    const timer = setTimeout(
      () => finish({ error: `not ready within ${timeoutMs / 1000} s (waiting for ${ready})` }),
      timeoutMs
    )
    const onData = (d) => {
      out = tail(out + d, 20_000)
      if (!done && ready.test(out)) finish({ ok: true })
    }
    child.stdout.setEncoding("utf8").on("data", onData)
    child.stderr.setEncoding("utf8").on("data", onData)
    child.once("error", (e) => finish({ error: `spawn failed: ${e.message}` }))
    child.once("exit", (code, sig) => finish({ error: `exited before it was ready (code ${code}, signal ${sig})` }))
  })
  if (result.error) {
    await stop(child)
    throw new Error(`${result.error}: ${tail(out, 800)}`)
  }
  return { child, output: () => out }
}

export function versionOf(cmd) {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8", timeout: 10_000, env: CHILD_ENV })
  return r.status === 0 ? (r.stdout.match(/\d+\.\d+\.\d+\S*/)?.[0] ?? r.stdout.trim()) : null
}

export function gitInfo() {
  const run = (args) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 5000 })
  const head = run(["rev-parse", "--short", "HEAD"])
  if (head.status !== 0) return null
  const dirty = run(["status", "--porcelain", "--untracked-files=no"])
  return { commit: head.stdout.trim(), dirty: dirty.status === 0 && dirty.stdout.trim() !== "" }
}

export function machineInfo() {
  let cpu = "unknown"
  try {
    cpu = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? cpu
  } catch {}
  const nproc = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length
  return { nproc, cpu, kernel: `${os.type()} ${os.release()}` }
}

/** Percentage of non-idle CPU time over `ms`, from /proc/stat (null if unavailable). */
export async function cpuBusy(ms) {
  const read = () => {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number)
    return { idle: f[3] + (f[4] || 0), total: f.reduce((a, b) => a + b, 0) }
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

/** Builds the C program `src` (paths relative to the repository) into `out` unless it is up to date. */
export function buildC(src, out, libs = []) {
  const [srcPath, outPath] = [rel(src), rel(out)]
  if (fs.existsSync(outPath) && fs.statSync(outPath).mtimeMs >= fs.statSync(srcPath).mtimeMs) return
  fs.mkdirSync(path.dirname(outPath), { recursive: true })
  const r = spawnSync("cc", ["-O2", "-Wall", "-o", outPath, srcPath, ...libs], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000
  })
  if (r.error || r.status !== 0) {
    console.error(`build of ${src} failed: ${r.error?.message ?? r.stderr}`)
    process.exit(1)
  }
}

/** Replaces what bench/README.md holds between the two markers; false if they are missing. */
export function writeReadmeSection(markers, block) {
  const readme = rel("bench/README.md")
  const text = fs.readFileSync(readme, "utf8")
  const a = text.indexOf(markers[0]), b = text.indexOf(markers[1])
  if (a < 0 || b < a) {
    console.error(`--write-readme: markers ${markers.join(" … ")} not found in bench/README.md`)
    return false
  }
  fs.writeFileSync(readme, text.slice(0, a + markers[0].length) + "\n" + block + "\n" + text.slice(b))
  return true
}
