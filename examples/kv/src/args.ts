/**
 * The kv server's command line (the same on every runtime): the shared
 * server flags (`--host`, `--port`, `--workers`, TLS, `--proxy-protocol`;
 * see `ExampleFlags` in examples/common) and the store's limits.
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import type { Effect } from "effect"
import { DEFAULT_PORT } from "./Kv.ts"
import type { KvOptions } from "./Server.ts"
import { defaultLimits } from "./Server.ts"

/** What the kv server is started with. */
export type KvFlags = KvOptions & { readonly workers: number }

const limit = (name: string, min: number, max: number, fallback: number, description: string) =>
  ExampleFlags.integer(name, { min, max }).pipe(
    Options.withDescription(`${description}; default ${fallback}.`),
    Options.withDefault(fallback)
  )

const limits = Options.all({
  maxKeyLength: limit("max-key", 1, 64 * 1024, defaultLimits.maxKeyLength, "The longest key, in bytes"),
  // a value must fit in one frame with its envelope
  maxValueSize: limit(
    "max-value",
    0,
    8 * 1024 * 1024 - 64 * 1024,
    defaultLimits.maxValueSize,
    "The largest value, in bytes (at most 8 MiB - 64 KiB)"
  ),
  maxKeys: limit("max-keys", 1, 100_000_000, defaultLimits.maxKeys, "The most keys the store holds")
})

/**
 * Runs the kv server from this process's arguments on `platform`; `serve`
 * is the runtime's part (transport, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (options: KvFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "kv-server",
      { server: ExampleFlags.server(DEFAULT_PORT), limits },
      ({ limits, server }) => ExampleCli.serve("kv", server, serve({ ...server, ...limits }))
    ).pipe(Command.withDescription("A key-value server (a typed wirekit protocol); its client is cli.ts.")),
    platform,
    { name: "kv-server" }
  )
