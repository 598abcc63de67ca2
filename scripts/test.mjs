#!/usr/bin/env node
// Runs every test suite on its runtime (vitest inside real Node, Bun and Deno) and
// prints how many tests passed (and were skipped) per runtime, then one closing line "N passed, N failed".
// Usage: node scripts/test.mjs [node|bun|deno ...]   (default: all)
import { spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules", ".bin", name)
const vitest = join(root, "node_modules", "vitest", "vitest.mjs")

/** One suite: a runtime, the command that runs vitest inside it, and what it covers. */
const suites = [
  {
    name: "node",
    covers:
      "core (codecs, memory transport, protocol suite on memory), node transport + protocol suite, examples (built), packed packages",
    cmd: process.execPath,
    args: [vitest, "run"]
  },
  {
    name: "bun",
    covers: "conformance + framing + platform interop + protocol suite over @wirekit/bun",
    cmd: bin("bun"),
    args: ["--bun", vitest, "run", "--root", "packages/bun"]
  },
  {
    name: "deno",
    covers: "conformance + framing + platform interop + protocol suite over @wirekit/deno",
    cmd: bin("deno"),
    args: ["run", "-A", "--unstable-net", vitest, "run", "--config", "packages/deno/vitest.config.ts"]
  }
]

const wanted = process.argv.slice(2)
const selected = wanted.length ? suites.filter((s) => wanted.includes(s.name)) : suites

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "")
const run = (suite) =>
  new Promise((resolve) => {
    console.log(`\n=== ${suite.name}: ${suite.covers}`)
    let out = ""
    const child = spawn(suite.cmd, suite.args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, FORCE_COLOR: "0" }
    })
    const tee = (d) => {
      out += d
      process.stdout.write(d)
    }
    child.stdout.on("data", tee)
    child.stderr.on("data", tee)
    child.on("exit", (code) => {
      const line = strip(out).split("\n").reverse().find((l) => /^\s*Tests\s+/.test(l)) ?? ""
      const num = (re) => Number((re.exec(line) ?? [0, 0])[1])
      resolve({
        name: suite.name,
        code,
        passed: num(/(\d+) passed/),
        failed: num(/(\d+) failed/),
        skipped: num(/(\d+) skipped/)
      })
    })
  })

const results = []
for (const suite of selected) results.push(await run(suite))

console.log("\n=== summary")
let passed = 0
let failed = 0
for (const r of results) {
  const bad = r.code !== 0 && r.failed === 0 ? " (runner exited " + r.code + ")" : ""
  console.log(
    `${r.name.padEnd(5)} ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}${bad}`
  )
  passed += r.passed
  failed += r.failed + (r.code !== 0 && r.failed === 0 ? 1 : 0)
}
const skipped = results.reduce((n, r) => n + r.skipped, 0)
// e.g. tests whose external program is missing here (each says which, and how to install it); on CI they run
if (skipped) console.log(`${skipped} skipped (see each runtime's output for why)`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(results.every((r) => r.code === 0) ? 0 : 1)
