#!/usr/bin/env node
// `npm start -- [--example echo] [--runtime node] [example flags...]`
// Starts an example on a runtime. Defaults: the echo example on Node.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
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
const entry = join(root, "examples", example, "src", runtime === "node" ? "main.ts" : `main.${runtime}.ts`)
if (!existsSync(join(root, "examples", example))) {
  console.error(`unknown example "${example}"`)
  process.exit(2)
}
if (!existsSync(entry)) {
  console.error(`example "${example}" has no entry point for runtime "${runtime}" (${entry})`)
  process.exit(2)
}
const bin = (name) => join(root, "node_modules", ".bin", name)
const commands = {
  node: [process.execPath, ["--import", "tsx", entry, ...argv]],
  bun: [bin("bun"), ["run", entry, ...argv]],
  deno: [bin("deno"), ["run", "-A", entry, ...argv]]
}
const command = commands[runtime]
if (!command) {
  console.error(`unknown runtime "${runtime}" (node, bun or deno)`)
  process.exit(2)
}
const child = spawn(command[0], command[1], { stdio: "inherit", cwd: root })
// the child gets the terminal's SIGINT itself; forward SIGTERM
process.on("SIGINT", () => {})
process.on("SIGTERM", () => child.kill("SIGTERM"))
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
