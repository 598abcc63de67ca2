// How to run an example (its built JavaScript) on each runtime. Shared by `npm start`
// (scripts/start.mjs) and the examples' end-to-end tests.
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "./build.mjs"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules", ".bin", name)

let built = false

/**
 * Builds what changed since the last build (packages, examples, workers fixture: `npm run build`),
 * once per process; quick when nothing changed. Type errors are reported, and what tsc emitted
 * despite them runs: a test or `npm start` then fails on its own terms, not on a stale dist/.
 */
export const ensureBuilt = () => {
  if (built) return
  if (build({ quiet: true }) !== 0) console.error("wirekit build: type errors (above); running what was emitted")
  built = true
}

/** The runtimes an example can run on. */
export const runtimes = ["node", "bun", "deno"]

/** The source entry point of `example` for `runtime` (main.ts for node, main.<runtime>.ts otherwise). */
export const entryOf = (example, runtime) =>
  join(root, "examples", example, "src", runtime === "node" ? "main.ts" : `main.${runtime}.ts`)

/** The built entry point of `example` for `runtime` (examples/<example>/dist/main[.<runtime>].js). */
export const builtEntryOf = (example, runtime) =>
  join(root, "examples", example, "dist", runtime === "node" ? "main.js" : `main.${runtime}.js`)

/** True when the example has an entry point for the runtime. */
export const hasEntry = (example, runtime) => existsSync(entryOf(example, runtime))

/**
 * [command, args] that start `example` on `runtime` with the example's own flags: the built
 * JavaScript (plain node, no TypeScript loader; see ensureBuilt), as a user of the packages runs it.
 */
export const commandFor = (example, runtime, args = []) => {
  const entry = builtEntryOf(example, runtime)
  switch (runtime) {
    case "node":
      return [process.execPath, [entry, ...args]]
    case "bun":
      return [bin("bun"), ["run", entry, ...args]]
    case "deno":
      return [bin("deno"), ["run", "-A", "--unstable-net", entry, ...args]]
    default:
      throw new Error(`unknown runtime "${runtime}" (node, bun or deno)`)
  }
}

/**
 * [command, args] that start `example` on `runtime` from its TypeScript sources, no build needed
 * (node through tsx): every runtime resolves the `@wirekit/*` packages to their sources through the
 * `@wirekit/source` export condition.
 */
export const sourceCommandFor = (example, runtime, args = []) => {
  const entry = entryOf(example, runtime)
  const source = "--conditions=@wirekit/source"
  switch (runtime) {
    case "node":
      return [process.execPath, [source, "--import", "tsx", entry, ...args]]
    case "bun":
      return [bin("bun"), [source, "run", entry, ...args]]
    case "deno":
      return [bin("deno"), ["run", "-A", "--unstable-net", source, entry, ...args]]
    default:
      throw new Error(`unknown runtime "${runtime}" (node, bun or deno)`)
  }
}

/** [command, args] that run the built command-line client of `example` (examples/<example>/dist/cli.js) on Node. */
export const cliCommandFor = (example, args = []) => [
  process.execPath,
  [join(root, "examples", example, "dist", "cli.js"), ...args]
]
