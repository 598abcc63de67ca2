// How to run an example's entry point on each runtime. Shared by `npm start`
// (scripts/start.mjs) and the examples' end-to-end tests.
import { existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules", ".bin", name)

/** The runtimes an example can run on. */
export const runtimes = ["node", "bun", "deno"]

/** The entry point of `example` for `runtime` (main.ts for node, main.<runtime>.ts otherwise). */
export const entryOf = (example, runtime) =>
  join(root, "examples", example, "src", runtime === "node" ? "main.ts" : `main.${runtime}.ts`)

/** True when the example has an entry point for the runtime. */
export const hasEntry = (example, runtime) => existsSync(entryOf(example, runtime))

/** [command, args] that start `example` on `runtime` with the example's own flags. */
export const commandFor = (example, runtime, args = []) => {
  const entry = entryOf(example, runtime)
  switch (runtime) {
    case "node":
      return [process.execPath, ["--import", "tsx", entry, ...args]]
    case "bun":
      return [bin("bun"), ["run", entry, ...args]]
    case "deno":
      return [bin("deno"), ["run", "-A", "--unstable-net", entry, ...args]]
    default:
      throw new Error(`unknown runtime "${runtime}" (node, bun or deno)`)
  }
}
