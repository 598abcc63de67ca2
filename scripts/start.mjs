#!/usr/bin/env node
// `npm start -- [--example echo|chat|kv|bank|resp] [--runtime node|bun|deno] [example flags...]`
// Starts an example on a runtime. Defaults: the echo example on Node.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { commandFor, ensureBuilt, hasEntry, root, runtimes } from "./runtimes.mjs"

const argv = process.argv.slice(2)
const take = (name, fallback) => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  if (i < 0) return fallback
  const a = argv[i]
  const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[i + 1]
  argv.splice(i, a.includes("=") ? 1 : 2)
  return value
}
const example = take("example", "echo")
const runtime = take("runtime", "node")
if (!existsSync(join(root, "examples", example))) {
  console.error(`unknown example "${example}"`)
  process.exit(2)
}
if (!runtimes.includes(runtime)) {
  console.error(`unknown runtime "${runtime}" (${runtimes.join(", ")})`)
  process.exit(2)
}
if (!hasEntry(example, runtime)) {
  console.error(`example "${example}" has no entry point for runtime "${runtime}"`)
  process.exit(2)
}
// the examples run as built JavaScript: build what changed since the last start (quick when nothing did)
ensureBuilt()
const [cmd, args] = commandFor(example, runtime, argv)
const child = spawn(cmd, args, { stdio: "inherit", cwd: root })
// Ctrl-C reaches the child directly (same process group): it shuts down and exits 0, and so does this process.
// The npm script `exec`s this file: a shell left between npm and node would die of the SIGINT itself, and
// npm, seeing its child killed by a signal, would exit 130 after a clean shutdown.
process.on("SIGINT", () => {})
process.on("SIGTERM", () => child.kill("SIGTERM"))
// with --workers N, SIGHUP asks the example's primary for a rolling restart
process.on("SIGHUP", () => child.kill("SIGHUP"))
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
