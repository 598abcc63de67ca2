import { defineConfig } from "vitest/config"
import { sourceResolve } from "../../vitest.shared.ts"

export default defineConfig({
  ...sourceResolve,
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
