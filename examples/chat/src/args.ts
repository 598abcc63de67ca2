/**
 * The chat example's command line (the same on every runtime): the shared
 * server flags (`--host`, `--port`, `--workers`, TLS, `--proxy-protocol`;
 * see `ExampleFlags` in examples/common), `--max-line N`, and
 * `--backplane redis://HOST:PORT [--backplane-ttl MS]`.
 */
import { Command, Options } from "@effect/cli"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import { RedisBackplane } from "@wirekit/redis"
import { Duration, Effect, Option } from "effect"
import type { ChatOptions } from "./Chat.ts"
import { DEFAULT_MAX_LINE_LENGTH } from "./Chat.ts"

/** What the chat server is started with. */
export type ChatFlags = ChatOptions & { readonly workers: number }

const maxLine = ExampleFlags.integer("max-line", { min: 1, max: 1024 * 1024 }).pipe(
  Options.withDescription(`The longest line a client may send, in bytes; default ${DEFAULT_MAX_LINE_LENGTH}.`),
  Options.withDefault(DEFAULT_MAX_LINE_LENGTH)
)

/**
 * `--backplane URL`: share rooms with the other chat servers on this Redis
 * (`redis://` or `rediss://`; absent: this server's rooms are its own);
 * `--backplane-ttl MS`: a server silent this long is dead, its clients gone
 * from `/who` (it beats every third of that).
 */
const backplane = Options.all({
  url: Options.text("backplane").pipe(
    Options.withPseudoName("redis://HOST:PORT"),
    Options.withDescription("Share rooms with the other chat servers on this Redis (redis:// or rediss://)."),
    Options.optional
  ),
  ttl: ExampleFlags.integer("backplane-ttl", { min: 300, max: 3_600_000, pseudoName: "MS" }).pipe(
    Options.withDescription("A server silent this long is gone from the backplane; default 6000."),
    Options.withDefault(6000)
  )
}).pipe(Options.mapEffect(({ ttl, url }) =>
  Option.match(url, {
    onNone: () => Effect.succeed(undefined),
    onSome: (url) =>
      /^rediss?:\/\/./.test(url)
        ? Effect.succeed(
          RedisBackplane.layer({ url, ttl: Duration.millis(ttl), heartbeat: Duration.millis(Math.floor(ttl / 3)) })
        )
        : Effect.fail(ExampleFlags.invalid(`--backplane must be a redis:// or rediss:// URL (got ${url})`))
  })
))

/**
 * Runs the chat server from this process's arguments on `platform`; `serve`
 * is the runtime's part (transport, workers).
 */
export const main = <E>(
  platform: ExampleCli.Platform,
  serve: (options: ChatFlags) => Effect.Effect<void, E>
): void =>
  ExampleCli.run(
    Command.make(
      "chat",
      { server: ExampleFlags.server(7001), maxLine, backplane },
      ({ backplane, maxLine, server }) =>
        ExampleCli.serve("chat", server, serve({ ...server, maxLineLength: maxLine, backplane }))
    ).pipe(Command.withDescription("A line-based chat server with rooms (try it with nc).")),
    platform,
    { name: "chat" }
  )
