/**
 * The bench servers' command line: `--name value` pairs (the runner's server
 * contract). Only plain TypeScript here: every bench server imports it, the
 * @effect/rpc ones included (they do not load wirekit).
 */
export const parseFlags = (argv: ReadonlyArray<string>): Record<string, string> => {
  const flags: Record<string, string> = {}
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!
    const value = argv[i + 1]
    if (!key.startsWith("--") || value === undefined) throw new Error(`bad arguments near ${key}`)
    flags[key.slice(2)] = value
  }
  return flags
}
