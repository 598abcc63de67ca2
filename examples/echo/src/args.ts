/**
 * The echo example's command line (the same on every runtime): the shared
 * server flags (`--host`, `--port`, `--workers`, TLS, `--proxy-protocol`;
 * see `ExampleFlags` in examples/common) and `--framing none|lines|length`.
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import type { Effect } from "effect"
import type { EchoFraming, EchoOptions } from "./Echo.ts"

/** What the echo server is started with. */
export type EchoFlags = EchoOptions & { readonly workers: number }

const framing: Options.Options<EchoFraming> = ExampleFlags.choice("framing", ["none", "lines", "length"]).pipe(
  Options.withDescription(
    "none (the default): bytes back as they come; lines: every line back; length: 4-byte big-endian length + payload frames back."
  ),
  Options.withDefault("none" as const)
)

/**
 * Runs the echo server from this process's arguments on `platform`; `serve`
 * is the runtime's part (transport, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (options: EchoFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "echo",
      { server: ExampleFlags.server(7000), framing },
      ({ framing, server }) => ExampleCli.serve("echo", server, serve({ ...server, framing }))
    ).pipe(Command.withDescription("Echoes what every client sends back to it.")),
    platform,
    { name: "echo" }
  )
