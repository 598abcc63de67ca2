import { defineConfig } from "vitest/config"
import { sourceResolve } from "./vitest.shared.ts"

export default defineConfig({
  ...sourceResolve,
  test: {
    include: [
      "packages/core/test/**/*.test.ts",
      "packages/node/test/**/*.test.ts",
      "packages/redis/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
      "test/**/*.test.ts"
    ],
    // the examples' end-to-end tests start the built examples (dist/): build what changed first
    globalSetup: ["scripts/build-setup.mjs"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
