/**
 * Server introspection: INFO, CONFIG GET, COMMAND (COUNT, INFO, DOCS, LIST): enough for
 * `redis-cli`, `redis-benchmark` and client libraries to start.
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import { fromKey, lowerAscii, toKey } from "../store/Binary.ts"
import { globMatch } from "../store/Glob.ts"
import { wrongArity } from "./Args.ts"
import { REDIS_VERSION, text } from "./Connection.ts"
import { type CommandSpec, container, type Context, spec } from "./Table.ts"

/** Parameters reported by `CONFIG GET` (read-only; this server has no persistence). */
export const CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["save", ""],
  ["appendonly", "no"],
  ["databases", "1"],
  ["maxmemory", "0"],
  ["maxmemory-policy", "noeviction"],
  ["timeout", "0"],
  ["hz", "10"]
]

const isGlob = (pattern: string): boolean => /[*?[]/.test(pattern)

/** CONFIG GET pattern [pattern ...]: a name without glob characters is echoed as given. */
const configGet = (args: ReadonlyArray<Uint8Array>): Reply.Reply => {
  const found = new Map<string, string>() // parameter → name to reply with
  for (let i = 2; i < args.length; i++) {
    const pattern = toKey(args[i])
    if (!isGlob(pattern)) {
      const lower = pattern.toLowerCase()
      if (!found.has(lower) && CONFIG.some(([name]) => name === lower)) found.set(lower, pattern)
      continue
    }
    for (const [name] of CONFIG) if (!found.has(name) && globMatch(pattern, name, true)) found.set(name, name)
  }
  const entries: Array<readonly [Reply.Reply, Reply.Reply]> = []
  for (const [name, value] of CONFIG) {
    const as = found.get(name)
    if (as !== undefined) entries.push([Reply.bulk(fromKey(as)), Reply.bulkText(value)])
  }
  return Reply.map(entries)
}

type Section = (ctx: Context) => ReadonlyArray<string>

const SECTIONS: ReadonlyArray<readonly [string, Section]> = [
  ["server", (ctx) => {
    const uptime = Math.max(0, Math.floor((ctx.now - ctx.store.startedAt) / 1000))
    return [
      `redis_version:${REDIS_VERSION}`,
      "redis_git_sha1:00000000",
      "redis_git_dirty:0",
      "redis_mode:standalone",
      "os:wirekit",
      "arch_bits:64",
      `uptime_in_seconds:${uptime}`,
      `uptime_in_days:${Math.floor(uptime / 86400)}`,
      "hz:10",
      "executable:wirekit-resp",
      "config_file:"
    ]
  }],
  ["clients", (ctx) => [`connected_clients:${ctx.store.stats.connectedClients}`, "blocked_clients:0"]],
  ["persistence", () => ["loading:0", "async_loading:0", "rdb_bgsave_in_progress:0", "aof_enabled:0"]],
  ["stats", (ctx) => [
    `total_connections_received:${ctx.store.stats.connectionsReceived}`,
    `total_commands_processed:${ctx.store.stats.commandsProcessed}`,
    `expired_keys:${ctx.store.stats.expiredKeys}`
  ]],
  ["replication", () => ["role:master", "connected_slaves:0"]],
  [
    "keyspace",
    (ctx) => ctx.store.size === 0 ? [] : [`db0:keys=${ctx.store.size},expires=${ctx.store.volatileSize},avg_ttl=0`]
  ]
]

/** INFO [section ...]: `# Section` blocks of `name:value` lines, separated by a blank line. */
const info = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const wanted = new Set<string>()
  for (let i = 1; i < args.length; i++) wanted.add(lowerAscii(args[i]))
  const all = wanted.size === 0 || wanted.has("all") || wanted.has("everything") || wanted.has("default")
  const blocks: Array<string> = []
  for (const [name, lines] of SECTIONS) {
    if (!all && !wanted.has(name)) continue
    const title = name[0].toUpperCase() + name.slice(1)
    blocks.push([`# ${title}`, ...lines(ctx)].map((line) => `${line}\r\n`).join(""))
  }
  return text(ctx.session, blocks.join("\r\n"))
}

const simpleSet = (items: ReadonlyArray<string>): Reply.Reply => Reply.set(items.map(Reply.simple))

/** A `COMMAND INFO` entry (Redis 7 layout: 10 fields). */
const describe = (cmd: CommandSpec): Reply.Reply =>
  Reply.array([
    Reply.bulkText(cmd.name),
    Reply.integer(cmd.arity),
    simpleSet(cmd.flags),
    Reply.integer(cmd.keys[0]),
    Reply.integer(cmd.keys[1]),
    Reply.integer(cmd.keys[2]),
    simpleSet(cmd.categories),
    Reply.set([]), // tips
    Reply.set([]), // key specs
    Reply.set(cmd.subcommands === undefined ? [] : [...cmd.subcommands.values()].map(describe))
  ])

/** The introspection commands; `table` gives the whole command table (for COMMAND). */
export const makeCommands = (table: () => ReadonlyMap<string, CommandSpec>): ReadonlyArray<CommandSpec> => {
  const find = (name: Uint8Array): CommandSpec | undefined => table().get(lowerAscii(name))
  const INTRO = ["loading", "stale"]
  return [
    spec("info", -1, ["loading", "stale"], [0, 0, 0], ["@slow", "@dangerous"], info),
    container("config", -2, ["@slow"], [
      spec(
        "config|get",
        -3,
        ["admin", "noscript", "loading", "stale"],
        [0, 0, 0],
        ["@admin", "@slow", "@dangerous"],
        configGet
      )
    ], () => wrongArity("config")), // (arity -2: never reached without a subcommand)
    container("command", -1, ["@slow", "@connection"], [
      spec("command|count", 2, INTRO, [0, 0, 0], ["@slow", "@connection"], () => Reply.integer(table().size)),
      spec("command|info", -2, INTRO, [0, 0, 0], ["@slow", "@connection"], (args) => {
        if (args.length === 2) return Reply.array([...table().values()].map(describe))
        return Reply.array(
          args.slice(2).map((name) => {
            const cmd = find(name)
            return cmd === undefined ? Reply.nullBulk : describe(cmd)
          })
        )
      }),
      spec("command|docs", -2, INTRO, [0, 0, 0], ["@slow", "@connection"], () => Reply.map([])),
      spec(
        "command|list",
        -2,
        INTRO,
        [0, 0, 0],
        ["@slow", "@connection"],
        () => Reply.array([...table().keys()].map(Reply.bulkText))
      )
    ], () => Reply.array([...table().values()].map(describe)))
  ]
}
