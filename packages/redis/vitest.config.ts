import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import { sourceResolve } from "../../vitest.shared.ts"

// From the repository root these tests run with the rest (`npx vitest run`); on another runtime:
//   node_modules/.bin/bun --bun node_modules/vitest/vitest.mjs run --root packages/redis
export default defineConfig({
  ...sourceResolve,
  root: fileURLToPath(new URL(".", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
