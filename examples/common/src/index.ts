/**
 * What the examples share: their command-line flags (host, port, workers,
 * TLS, PROXY protocol) as `@effect/cli` options, and the runner that turns a
 * command into the program with the same exit statuses on every runtime.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as ExampleCli from "./ExampleCli.ts"

/**
 * @since 0.1.0
 */
export * as ExampleFlags from "./ExampleFlags.ts"
