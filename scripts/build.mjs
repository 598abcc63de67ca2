#!/usr/bin/env node
// Builds every publishable package, the examples and the workers fixture to ESM JavaScript,
// declarations and source maps in their dist/ folders: `npm run build` (tsc -b tsconfig.build.json,
// incremental: a second run only checks timestamps). Then, in each dist/:
// - the hand-written declaration files of src/ (the Bun and Deno API subsets) are copied, since tsc
//   emits no .d.ts for a .d.ts input and the emitted declarations import them;
// - `/// <reference path>` lines of a source reach its declarations (tsc keeps only those marked
//   preserve="true"), so the declarations that use the Bun subset still see it;
// - relative `.ts` specifiers in the emitted .d.ts become `.js` (tsc rewrites them in JavaScript only),
//   so a consumer on any TypeScript resolution mode reads the declarations like the JavaScript.
// Usage: node scripts/build.mjs [--quiet] [--clean]
import { spawnSync } from "node:child_process"
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const tsc = join(root, "node_modules", "typescript", "bin", "tsc")
const solution = join(root, "tsconfig.build.json")
// another process building the same tree waits for it, up to this long, then takes over
const LOCK_WAIT_MS = 180_000
const lock = join(root, "node_modules", ".cache", "wirekit-build.lock")

/** The folders (relative to the root) of the projects the solution references, in its order. */
export const projects = () => {
  const seen = new Set()
  const visit = (config) => {
    const json = JSON.parse(readFileSync(config, "utf8"))
    for (const ref of json.references ?? []) {
      const path = join(dirname(config), ref.path)
      const file = path.endsWith(".json") ? path : join(path, "tsconfig.json")
      visit(file)
      seen.add(relative(root, dirname(file)))
    }
  }
  visit(solution)
  return [...seen]
}

const walk = (dir, out = []) => {
  if (!existsSync(dir)) return out
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) walk(path, out)
    else out.push(path)
  }
  return out
}

// `from "./X.ts"`, `import("./X.ts")`: a relative specifier with a TypeScript extension (not `.d.ts`)
const tsSpecifier = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"'\n]*?)(?<!\.d)\.([mc]?)ts\2/g

const finishDist = (project) => {
  const src = join(root, project, "src")
  const dist = join(root, project, "dist")
  if (!existsSync(dist)) return
  for (const file of walk(src)) {
    if (!/\.d\.[mc]?ts$/.test(file)) continue
    const target = join(dist, relative(src, file))
    if (existsSync(target) && statSync(target).mtimeMs >= statSync(file).mtimeMs) continue
    mkdirSync(dirname(target), { recursive: true })
    copyFileSync(file, target)
  }
  for (const file of walk(src)) {
    if (!/(?<!\.d)\.[mc]?ts$/.test(file)) continue
    const refs = readFileSync(file, "utf8").match(/^\/\/\/ <reference path=.*$/gm)
    const target = join(dist, relative(src, file)).replace(/\.([mc]?)ts$/, ".d.$1ts")
    if (!refs || !existsSync(target)) continue
    const text = readFileSync(target, "utf8")
    const missing = refs.filter((ref) => !text.includes(ref))
    if (missing.length === 0) continue
    writeFileSync(target, `${missing.join("\n")}\n${text}`)
    // one generated line per reference added before the rest: shift the declaration map as much
    const map = `${target}.map`
    if (existsSync(map)) {
      const json = JSON.parse(readFileSync(map, "utf8"))
      json.mappings = ";".repeat(missing.length) + json.mappings
      writeFileSync(map, JSON.stringify(json))
    }
  }
  for (const file of walk(dist)) {
    if (!/\.d\.[mc]?ts$/.test(file)) continue
    const text = readFileSync(file, "utf8")
    // same length (.ts -> .js): the declaration maps stay exact
    const next = text.replace(tsSpecifier, (_, lead, q, path, m) => `${lead}${q}${path}.${m}js${q}`)
    if (next !== text) writeFileSync(file, next)
  }
}

const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** True when the process that took the lock has gone (killed mid-build): its lock is stale. */
const lockIsStale = () => {
  let pid
  let age
  try {
    age = Date.now() - statSync(lock).mtimeMs
    pid = Number(readFileSync(join(lock, "pid"), "utf8"))
  } catch {
    // just created (no pid yet) or just released: wait a little; a lock without pid for long is stale
    return age !== undefined && age > 5_000
  }
  try {
    process.kill(pid, 0)
    return age > LOCK_WAIT_MS
  } catch (e) {
    return e.code === "ESRCH"
  }
}

const withLock = (f) => {
  mkdirSync(dirname(lock), { recursive: true })
  const start = Date.now()
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, "pid"), String(process.pid))
      break
    } catch (e) {
      if (e.code !== "EEXIST") throw e
      if (lockIsStale() || Date.now() - start > LOCK_WAIT_MS) rmSync(lock, { recursive: true, force: true })
      else sleep(100)
    }
  }
  try {
    return f()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/**
 * Builds what changed. Returns tsc's exit status (0: no errors; with type errors tsc still emits,
 * and the caller decides). `quiet` keeps tsc's output unless it reports errors.
 */
export const build = ({ quiet = false, clean = false } = {}) =>
  withLock(() => {
    if (clean) {
      const r = spawnSync(process.execPath, [tsc, "-b", solution, "--clean"], { cwd: root, stdio: "inherit" })
      return r.status ?? 1
    }
    const r = spawnSync(process.execPath, [tsc, "-b", solution], {
      cwd: root,
      stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit",
      encoding: "utf8"
    })
    if (quiet && r.status !== 0) process.stderr.write(`${r.stdout ?? ""}${r.stderr ?? ""}`)
    for (const project of projects()) finishDist(project)
    return r.status ?? 1
  })

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  process.exit(build({ quiet: args.includes("--quiet"), clean: args.includes("--clean") }))
}
