import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: [
      "packages/core/test/**/*.test.ts",
      "packages/node/test/**/*.test.ts",
      "packages/redis/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts"
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
