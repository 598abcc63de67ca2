/**
 * The `--workers N` flag every example shares: N processes of the example
 * serve its one port (`NodeWorkers`, `BunWorkers`, `DenoWorkers`); 1, the
 * default, runs it in this process as before. Read the same way on Node,
 * Bun and Deno.
 */

/** `parseArgs` options of the flag (spread them into the example's own). */
export const workersFlags = {
  workers: { type: "string", default: "1" }
} as const

/** The flag, for usage lines. */
export const workersUsage = "[--workers 1]"

/** The most workers an example accepts (the supervisor's own bound is 1024). */
export const maxWorkers = 256

/** The `--workers` value: an integer from 1 to {@link maxWorkers}; anything else exits with status 2 and the usage. */
export const workers = (values: Readonly<Record<string, unknown>>, usage: string): number => {
  const text = values.workers === undefined ? "1" : String(values.workers)
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > maxWorkers) {
    console.error(`--workers must be an integer from 1 to ${maxWorkers} (got ${text})\n${usage}`)
    process.exit(2)
  }
  return n
}
