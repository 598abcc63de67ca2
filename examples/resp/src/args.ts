/**
 * The RESP example's command line (the same on every runtime): the shared
 * server flags (`--host`, `--port`, `--workers`, TLS, `--proxy-protocol`;
 * see `ExampleFlags` in examples/common) and `--max-command-bytes N` (the
 * decoder's `maxCommandBytes`: the largest cost of one command, its
 * arguments' lengths plus a fixed overhead each; default 128 MiB).
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import type { Effect } from "effect"
import { Option } from "effect"
import type { RespServerOptions } from "./RespServer.ts"

/** What the RESP server is started with. */
export type RespFlags = RespServerOptions & { readonly workers: number }

const maxCommandBytes = ExampleFlags.integer("max-command-bytes", { min: 1, max: Number.MAX_SAFE_INTEGER }).pipe(
  Options.withDescription(
    "The largest cost of one command (its arguments' lengths plus an overhead each); default 128 MiB."
  ),
  Options.optional
)

/**
 * Runs the RESP server from this process's arguments on `platform`; `serve`
 * is the runtime's part (transport, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (options: RespFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "resp",
      { server: ExampleFlags.server(6380), maxCommandBytes },
      ({ maxCommandBytes, server }) =>
        ExampleCli.serve(
          "resp",
          server,
          serve({
            ...server,
            limits: Option.match(maxCommandBytes, { onNone: () => ({}), onSome: (n) => ({ maxCommandBytes: n }) })
          })
        )
    ).pipe(Command.withDescription("A Redis-protocol (RESP2/RESP3) server: try it with redis-cli.")),
    platform,
    { name: "resp" }
  )
