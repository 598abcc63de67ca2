/**
 * The bank server's command line (the same on every runtime): the shared
 * server flags (`--host`, `--port`, `--workers`, TLS, `--proxy-protocol`;
 * see `ExampleFlags` in examples/common), the ledger's limits and
 * `--reply-delay MS` (time between applying a `Deposit` or `Transfer` and
 * answering it: to try retries).
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import type { Effect } from "effect"
import { DEFAULT_PORT } from "./Bank.ts"
import type { BankOptions } from "./Server.ts"
import { defaultLimits } from "./Server.ts"

/** What the bank server is started with. */
export type BankFlags = BankOptions & { readonly workers: number }

const integer = (name: string, min: number, max: number, fallback: number, description: string) =>
  ExampleFlags.integer(name, { min, max }).pipe(
    Options.withDescription(`${description}; default ${fallback}.`),
    Options.withDefault(fallback)
  )

const settings = Options.all({
  maxAccounts: integer("max-accounts", 1, 10_000_000, defaultLimits.maxAccounts, "The most accounts"),
  maxKeys: integer("max-keys", 1, 10_000_000, defaultLimits.maxKeys, "The most idempotency keys remembered"),
  keyTtl: integer("key-ttl", 1, 30 * 24 * 3600, defaultLimits.keyTtlMs / 1000, "Seconds a key is remembered"),
  replyDelay: integer(
    "reply-delay",
    0,
    20_000,
    0,
    "Milliseconds between applying a Deposit or Transfer and answering it (to try retries)"
  )
})

/**
 * Runs the bank server from this process's arguments on `platform`; `serve`
 * is the runtime's part (transport, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (options: BankFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "bank-server",
      { server: ExampleFlags.server(DEFAULT_PORT), settings },
      ({ server, settings: { keyTtl, ...rest } }) =>
        ExampleCli.serve("bank", server, serve({ ...server, ...rest, keyTtlMs: keyTtl * 1000 }))
    ).pipe(Command.withDescription("A bank server with idempotent requests; its client is cli.ts.")),
    platform,
    { name: "bank-server" }
  )
