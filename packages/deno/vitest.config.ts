import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"
import { sourceResolve } from "../../vitest.shared.ts"

// These tests need the Deno runtime (the `Deno` global): run vitest under Deno,
// from the repository root:
//   node_modules/.bin/deno run -A node_modules/vitest/vitest.mjs run --config packages/deno/vitest.config.ts
export default defineConfig({
  ...sourceResolve,
  root: fileURLToPath(new URL(".", import.meta.url)),
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
