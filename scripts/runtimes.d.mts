/** Types of runtimes.mjs for the TypeScript tests. */
export declare const root: string
export declare const runtimes: ReadonlyArray<"node" | "bun" | "deno">
export declare const entryOf: (example: string, runtime: string) => string
export declare const builtEntryOf: (example: string, runtime: string) => string
export declare const hasEntry: (example: string, runtime: string) => boolean
export declare const commandFor: (example: string, runtime: string, args?: ReadonlyArray<string>) => [string, Array<string>]
export declare const sourceCommandFor: (
  example: string,
  runtime: string,
  args?: ReadonlyArray<string>
) => [string, Array<string>]
export declare const ensureBuilt: () => void
export declare const cliCommandFor: (example: string, args?: ReadonlyArray<string>) => [string, Array<string>]
