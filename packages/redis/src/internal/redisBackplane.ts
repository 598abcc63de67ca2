/**
 * The implementation of `RedisBackplane`: two ioredis connections (one
 * publishes and keeps the registry, one subscribes), Lua scripts for what
 * must be atomic (the heartbeat and its sweep of dead nodes, an
 * announcement, a liveness-filtered member list). The public module holds
 * the options, the key layout and the documentation.
 */
import { Backplane } from "@wirekit/core"
import { Duration, Effect, Fiber, Schedule } from "effect"
import type { Scope } from "effect"
import { Redis } from "ioredis"
import type { RedisOptions } from "ioredis"
import type { RedisBackplaneOptions } from "../RedisBackplane.ts"

/** See `RedisBackplane.defaults`. */
export const defaults = {
  keyPrefix: "wirekit:",
  connectTimeout: Duration.seconds(5),
  commandTimeout: Duration.seconds(5),
  maxReconnectDelay: Duration.seconds(2)
} as const

/** Dead nodes one heartbeat removes at most (the rest on the next ones): a sweep never blocks Redis long. */
const SWEEP_LIMIT = 16
/** Memberships per announcement script call; the rest follow as plain updates. */
const ANNOUNCE_CHUNK = 1000
/** Channels per SUBSCRIBE when resubscribing after a reconnection. */
const SUBSCRIBE_CHUNK = 1000

// Redis < 7 replicates scripts verbatim unless told otherwise, which TIME forbids before a write
const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/** Removes every membership of `node` (its own hash lists them: "group\nsession"). */
const FORGET = `
local function forget(prefix, node)
  local owned = prefix .. 'node:' .. node
  for _, entry in ipairs(redis.call('HKEYS', owned)) do
    -- "group" LF "session": the session is digits, the group anything (a newline too): split at the last one
    local group, session = string.match(entry, '^(.*)\\n(%d+)$')
    if group then
      redis.call('HDEL', prefix .. 'members:' .. group, node .. '/' .. session)
    end
  end
  redis.call('DEL', owned)
end
`

/**
 * KEYS[1] the nodes zset; ARGV prefix, node, ttl, sweep limit. Beats, sweeps
 * dead nodes; 1 when this node had no liveness left (its state may be gone).
 */
const HEARTBEAT = PRELUDE + FORGET + `
local before = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  forget(ARGV[1], dead)
  redis.call('ZREM', KEYS[1], dead)
end
if before == false or tonumber(before) <= now then return 1 end
return 0
`

/**
 * KEYS[1] the nodes zset; ARGV prefix, node, ttl or "leave", then (group,
 * session, meta) triples. Replaces the node's memberships and beats (or
 * removes the node).
 */
const ANNOUNCE = PRELUDE + FORGET + `
local prefix, node = ARGV[1], ARGV[2]
forget(prefix, node)
if ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], node)
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), node)
local owned = prefix .. 'node:' .. node
for i = 4, #ARGV, 3 do
  redis.call('HSET', prefix .. 'members:' .. ARGV[i], node .. '/' .. ARGV[i + 1], ARGV[i + 2])
  redis.call('HSET', owned, ARGV[i] .. '\\n' .. ARGV[i + 1], '1')
end
return 0
`

/** KEYS[1] the group's members hash, KEYS[2] the nodes zset: the members of live nodes, as field, meta pairs. */
const MEMBERS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local out = {}
for i = 1, #all, 2 do
  local field = all[i]
  local slash = string.find(field, '/', 1, true)
  if slash then
    local node = string.sub(field, 1, slash - 1)
    local live = alive[node]
    if live == nil then
      local score = redis.call('ZSCORE', KEYS[2], node)
      live = score ~= false and tonumber(score) > now
      alive[node] = live
    end
    if live then
      out[#out + 1] = field
      out[#out + 1] = all[i + 1]
    end
  end
end
return out
`

/** The scripts, as commands ioredis runs with EVALSHA (loading them when Redis does not know them). */
interface Scripted {
  wirekitHeartbeat(nodes: string, prefix: string, node: string, ttl: number, limit: number): Promise<number>
  wirekitAnnounce(nodes: string, ...args: Array<string | number>): Promise<number>
  wirekitMembers(members: string, nodes: string): Promise<Array<string>>
}

const millis = (name: string, d: Duration.DurationInput): number => {
  const ms = Duration.toMillis(Duration.decode(d))
  if (!(Number.isFinite(ms) && ms > 0)) {
    throw new RangeError(`RedisBackplane: ${name} must be a positive finite duration, got ${ms}ms`)
  }
  return Math.round(ms)
}

const messageOf = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

const parseMeta = (text: string | undefined): Backplane.Metadata => {
  if (text === undefined || text === "") return {}
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== "object" || value === null || Array.isArray(value)) return {}
    const meta: Record<string, string> = {}
    for (const [k, v] of Object.entries(value)) if (typeof v === "string") meta[k] = v
    return meta
  } catch {
    return {}
  }
}

/** See `RedisBackplane.make`. */
export const make = (
  options: RedisBackplaneOptions
): Effect.Effect<Backplane.Backplane, Backplane.BackplaneError, Scope.Scope> =>
  Effect.gen(function*() {
    const node = options.node ?? Backplane.makeNodeId()
    if (!Backplane.isNodeId(node)) {
      throw new RangeError(`RedisBackplane: a node id is 1-64 of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(node)}`)
    }
    const heartbeat = millis("heartbeat", options.heartbeat ?? Backplane.defaults.heartbeat)
    const ttl = millis("ttl", options.ttl ?? Backplane.defaults.ttl)
    if (ttl <= heartbeat) {
      throw new RangeError(`RedisBackplane: ttl (${ttl}ms) must be longer than the heartbeat (${heartbeat}ms)`)
    }
    const connectTimeout = millis("connectTimeout", options.connectTimeout ?? defaults.connectTimeout)
    const commandTimeout = millis("commandTimeout", options.commandTimeout ?? defaults.commandTimeout)
    const maxReconnectDelay = millis("maxReconnectDelay", options.maxReconnectDelay ?? defaults.maxReconnectDelay)
    const prefix = options.keyPrefix ?? defaults.keyPrefix
    const nodesKey = `${prefix}nodes`
    const ownedKey = `${prefix}node:${node}`
    const channelPrefix = `${prefix}group:`
    const where = (() => {
      try {
        const u = new URL(options.url)
        return `${u.protocol}//${u.host}`
      } catch {
        return "an unparsable URL"
      }
    })()

    const failure = (operation: string, client?: Redis) => (cause: unknown): Backplane.BackplaneError => {
      const detail = messageOf(cause)
      const reason: Backplane.BackplaneErrorReason = /timed out/i.test(detail)
        ? "Timeout"
        : client !== undefined && client.status !== "ready"
        ? "Unavailable"
        : /closed|writeable|ECONNREFUSED|ECONNRESET|EPIPE|MaxRetriesPerRequest/i.test(detail)
        ? "Unavailable"
        : "Failed"
      return new Backplane.BackplaneError({
        reason,
        backplane: "redis",
        operation,
        node,
        detail: `${detail} (${where})`,
        cause
      })
    }

    // what the backplane relies on wins over the caller's client options: commands fail at once
    // while disconnected (no unbounded offline queue, nothing sent twice after a reconnection),
    // and subscriptions are restored by this module, which knows the ones still wanted
    const clientOptions = (role: string): RedisOptions => ({
      ...options.redis,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      connectTimeout,
      commandTimeout,
      connectionName: `wirekit:${node}:${role}`,
      retryStrategy: (times: number) => Math.min(maxReconnectDelay, 50 * 2 ** Math.min(times, 16))
    })

    const listeners = new Set<Backplane.BackplaneListener>()
    /** The groups whose channels this node wants (restored after each reconnection). */
    const wanted = new Set<string>()
    let lastError: unknown = undefined

    const { publisher, subscriber } = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const publisher = new Redis(options.url, clientOptions("pub"))
        const subscriber = new Redis(options.url, clientOptions("sub"))
        // an error event nobody listens to is printed by ioredis; the close that follows is what counts
        publisher.on("error", (error) => void (lastError = error))
        subscriber.on("error", (error) => void (lastError = error))
        return { publisher, subscriber }
      }),
      ({ publisher, subscriber }) =>
        Effect.promise(() =>
          Promise.all([publisher, subscriber].map((client) =>
            client.status === "ready"
              ? Promise.race([
                client.quit().catch(() => undefined),
                new Promise((resolve) => setTimeout(resolve, 1000))
              ]).finally(() => client.disconnect())
              : Promise.resolve(client.disconnect())
          ))
        )
    )
    const scripted = publisher as unknown as Scripted
    publisher.defineCommand("wirekitHeartbeat", { numberOfKeys: 1, lua: HEARTBEAT })
    publisher.defineCommand("wirekitAnnounce", { numberOfKeys: 1, lua: ANNOUNCE })
    publisher.defineCommand("wirekitMembers", { numberOfKeys: 2, lua: MEMBERS })

    const connect = (client: Redis, role: string) =>
      // ioredis rejects with "Connection is closed."; the error event before it says why (refused, DNS, TLS)
      Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) => failure(`connect (${role})`)(lastError ?? cause)
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(connectTimeout + 500),
          onTimeout: () =>
            new Backplane.BackplaneError({
              reason: "Timeout",
              backplane: "redis",
              operation: `connect (${role})`,
              node,
              detail: `not connected within ${connectTimeout}ms (${where})`
            })
        })
      )
    yield* Effect.all([connect(publisher, "publisher"), connect(subscriber, "subscriber")], { concurrency: 2 })

    const run = <A>(operation: string, f: () => Promise<A>): Effect.Effect<A, Backplane.BackplaneError> =>
      Effect.tryPromise({ try: f, catch: failure(operation, publisher) })
    /** Runs a pipeline; fails with the first command's error, if any. */
    const exec = (
      operation: string,
      build: (p: ReturnType<Redis["pipeline"]>) => void
    ): Effect.Effect<void, Backplane.BackplaneError> =>
      Effect.flatMap(
        run(operation, () => {
          const pipeline = publisher.pipeline()
          build(pipeline)
          return pipeline.exec()
        }),
        (results) => {
          const failed = results?.find(([error]) => error !== null)
          return failed === undefined ? Effect.void : Effect.fail(failure(operation, publisher)(failed[0]))
        }
      )

    // up when both connections are ready; each change told to the listeners once
    let pubReady = true
    let subReady = true
    let up = true
    const changed = () => {
      const now = pubReady && subReady
      if (now === up) return
      up = now
      if (now) {
        for (const l of listeners) l.up()
        return
      }
      const error = new Backplane.BackplaneError({
        reason: "Unavailable",
        backplane: "redis",
        operation: "connection",
        node,
        detail: `${lastError === undefined ? "connection closed" : messageOf(lastError)} (${where}); reconnecting`,
        cause: lastError
      })
      for (const l of listeners) l.down(error)
    }
    const resubscribe = () => {
      const channels = [...wanted].map((group) => channelPrefix + group)
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) {
        subscriber.subscribe(...channels.slice(i, i + SUBSCRIBE_CHUNK)).catch(() => undefined)
      }
    }
    publisher.on("ready", () => {
      pubReady = true
      changed()
    })
    publisher.on("close", () => {
      pubReady = false
      changed()
    })
    subscriber.on("ready", () => {
      subReady = true
      resubscribe()
      changed()
    })
    subscriber.on("close", () => {
      subReady = false
      changed()
    })
    subscriber.on("message", (channel: string, message: string) => {
      if (!channel.startsWith(channelPrefix)) return
      const group = channel.slice(channelPrefix.length)
      for (const l of listeners) l.message(group, message)
    })

    // the heartbeat: keeps this node alive, sweeps dead ones, tells Groups when its state may be gone
    let beatFailed = false
    const beat = run("heartbeat", () => scripted.wirekitHeartbeat(nodesKey, prefix, node, ttl, SWEEP_LIMIT)).pipe(
      Effect.matchEffect({
        onFailure: (error) =>
          Effect.sync(() => {
            if (beatFailed) return
            beatFailed = true
            // a closed connection was told already; a refused command (a full server) is news
            if (up) { for (const l of listeners) l.down(error) }
          }),
        onSuccess: (lost) =>
          Effect.sync(() => {
            const recovered = beatFailed
            beatFailed = false
            if ((lost === 1 || recovered) && up) { for (const l of listeners) l.up() }
          })
      })
    )
    yield* run("heartbeat", () => scripted.wirekitHeartbeat(nodesKey, prefix, node, ttl, SWEEP_LIMIT))
    const beating = yield* Effect.forkScoped(Effect.repeat(beat, Schedule.spaced(Duration.millis(heartbeat))))

    // on a clean stop this node's memberships go at once (a killed process's go when its TTL passes)
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Fiber.interrupt(beating)
        if (publisher.status !== "ready") return
        yield* Effect.ignore(
          run("leave", () => scripted.wirekitAnnounce(nodesKey, prefix, node, "leave")).pipe(
            Effect.timeout(Duration.seconds(2))
          )
        )
      })
    )

    const announce = (
      memberships: ReadonlyArray<Backplane.Membership>
    ): Effect.Effect<void, Backplane.BackplaneError> =>
      Effect.gen(function*() {
        const first = memberships.slice(0, ANNOUNCE_CHUNK)
        const args: Array<string | number> = [prefix, node, ttl]
        for (const { group, member } of first) args.push(group, member.session, JSON.stringify(member.meta))
        yield* run("announce", () => scripted.wirekitAnnounce(nodesKey, ...args))
        for (let i = ANNOUNCE_CHUNK; i < memberships.length; i += ANNOUNCE_CHUNK) {
          yield* update(
            memberships.slice(i, i + ANNOUNCE_CHUNK).map(({ group, member }) => ({
              group,
              session: member.session,
              member
            }))
          )
        }
      })

    const update = (
      changes: ReadonlyArray<Backplane.MembershipChange>
    ): Effect.Effect<void, Backplane.BackplaneError> =>
      changes.length === 0 ? Effect.void : exec("update", (p) => {
        for (const { group, member, session } of changes) {
          const field = `${node}/${session}`
          if (member === undefined) {
            p.hdel(`${prefix}members:${group}`, field)
            p.hdel(ownedKey, `${group}\n${session}`)
          } else {
            p.hset(`${prefix}members:${group}`, field, JSON.stringify(member.meta))
            p.hset(ownedKey, `${group}\n${session}`, "1")
          }
        }
      })

    const backplane: Backplane.Backplane = {
      name: "redis",
      node,
      // one pipeline on the one publishing connection: Redis relays them in this order
      publish: (messages) =>
        messages.length === 0 ? Effect.void : exec("publish", (p) => {
          for (const { group, message } of messages) p.publish(channelPrefix + group, message)
        }),
      // done once Redis confirmed it (Groups then makes the membership visible: a member listed
      // anywhere gets the group's broadcasts); offline, the reconnection's resubscribe covers it
      subscribe: (group) =>
        Effect.promise(() => {
          if (wanted.has(group)) return Promise.resolve()
          wanted.add(group)
          return subscriber.status === "ready"
            ? subscriber.subscribe(channelPrefix + group).then(() => undefined, () => undefined)
            : Promise.resolve()
        }),
      unsubscribe: (group) =>
        Effect.promise(() => {
          if (!wanted.delete(group)) return Promise.resolve()
          return subscriber.status === "ready"
            ? subscriber.unsubscribe(channelPrefix + group).then(() => undefined, () => undefined)
            : Promise.resolve()
        }),
      update,
      announce,
      members: (group) =>
        Effect.map(run("members", () => scripted.wirekitMembers(`${prefix}members:${group}`, nodesKey)), (flat) => {
          const members: Array<Backplane.Member> = []
          for (let i = 0; i + 1 < flat.length; i += 2) {
            const field = flat[i]!
            const slash = field.lastIndexOf("/")
            const session = Number(field.slice(slash + 1))
            if (slash <= 0 || !Number.isSafeInteger(session)) continue
            members.push({ node: field.slice(0, slash), session, meta: parseMeta(flat[i + 1]) })
          }
          return members
        }),
      listen: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => void listeners.add(listener)),
          () => Effect.sync(() => void listeners.delete(listener))
        )
    }
    return backplane
  })
