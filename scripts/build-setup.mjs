// vitest globalSetup: tests that start the built examples (dist/) need an up-to-date build.
// The incremental build takes a moment when nothing changed.
import { ensureBuilt } from "./runtimes.mjs"

export const setup = () => {
  ensureBuilt()
}
