import { describe, expect, it } from "@effect/vitest"
import type * as Resp from "../src/Resp.ts"
import { harness, str, table } from "./helpers.ts"

/** The members of an array reply of bulk strings, sorted (for replies in hash order in Redis). */
const sorted = (reply: Resp.Reply): Array<string> => {
  if (reply._tag !== "Array" && reply._tag !== "Set") throw new Error(`not an array: ${reply._tag}`)
  return (reply.value ?? []).map((r) => (r._tag === "Bulk" && r.value !== null ? str(r.value) : "?")).sort()
}

describe("Keyspace commands: replies recorded from redis-server 7.0", () => {
  it("EXPIRE/PEXPIRE options, TTL, PTTL, PERSIST", () => {
    expect(table(harness(), [
      ["SET a 1", "+OK\r\n"],
      ["EXPIRE a 100", ":1\r\n"],
      ["TTL a", ":100\r\n"],
      ["PTTL a", ":100000\r\n"],
      ["EXPIRE a 50 GT", ":0\r\n"],
      ["EXPIRE a 150 GT", ":1\r\n"],
      ["EXPIRE a 200 LT", ":0\r\n"],
      ["EXPIRE a 10 LT", ":1\r\n"],
      ["EXPIRE a 10 NX", ":0\r\n"],
      ["EXPIRE a 10 XX", ":1\r\n"],
      ["EXPIRE a 10 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"],
      ["EXPIRE a 10 GT LT", "-ERR GT and LT options at the same time are not compatible\r\n"],
      ["EXPIRE a 10 NX GT", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"],
      ["EXPIRE a 10 FOO", "-ERR Unsupported option FOO\r\n"],
      ["EXPIRE a x FOO", "-ERR Unsupported option FOO\r\n"],
      ["EXPIRE a 10 xx gt", ":0\r\n"],
      ["PERSIST a", ":1\r\n"],
      ["PERSIST a", ":0\r\n"],
      ["PERSIST nope", ":0\r\n"],
      ["EXPIRE a 10 GT", ":0\r\n"],
      ["EXPIRE a 10 LT", ":1\r\n"],
      ["TTL a", ":10\r\n"],
      ["PERSIST a", ":1\r\n"],
      ["EXPIRE a 10 XX", ":0\r\n"],
      ["EXPIRE nope 10", ":0\r\n"],
      ["TTL nope", ":-2\r\n"],
      ["PTTL nope", ":-2\r\n"],
      ["EXPIRE a x", "-ERR value is not an integer or out of range\r\n"],
      ["EXPIRE a 9223372036854775807", "-ERR invalid expire time in 'expire' command\r\n"],
      ["PEXPIRE a 9223372036854775807", "-ERR invalid expire time in 'pexpire' command\r\n"],
      ["EXPIRE a 9223372036854775", "-ERR invalid expire time in 'expire' command\r\n"],
      ["EXPIRE a 9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"],
      ["EXPIRE a -9223372036854775808", "-ERR invalid expire time in 'expire' command\r\n"],
      ["PEXPIRE a -9223372036854775808", ":1\r\n"],
      ["EXISTS a", ":0\r\n"],
      ["SET a 1", "+OK\r\n"],
      ["EXPIRE a -1", ":1\r\n"],
      ["EXISTS a", ":0\r\n"],
      ["SET a 1", "+OK\r\n"],
      ["EXPIRE a 0", ":1\r\n"],
      ["EXISTS a", ":0\r\n"],
      ["SET a 1", "+OK\r\n"],
      ["PEXPIRE a 1500", ":1\r\n"],
      ["TTL a", ":2\r\n"],
      ["PEXPIRE a 1499", ":1\r\n"],
      ["TTL a", ":1\r\n"],
      ["PEXPIRE a 500", ":1\r\n"],
      ["TTL a", ":1\r\n"],
      ["PEXPIRE a 499", ":1\r\n"],
      ["TTL a", ":0\r\n"],
      ["EXPIRE a 1 2 3", "-ERR Unsupported option 2\r\n"],
      ["PTTL a", ":499\r\n"],
      ["SET b 1", "+OK\r\n"],
      ["EXPIRE b -5 LT", ":1\r\n"],
      ["EXISTS b", ":0\r\n"],
      ["SET b 1", "+OK\r\n"],
      ["EXPIRE b -5 GT", ":0\r\n"],
      ["EXISTS b", ":1\r\n"],
      ["EXPIRE", "-ERR wrong number of arguments for 'expire' command\r\n"],
      ["TTL", "-ERR wrong number of arguments for 'ttl' command\r\n"],
      ["PERSIST a b", "-ERR wrong number of arguments for 'persist' command\r\n"]
    ])).toEqual([])
  })

  it("KEYS, TYPE, EXISTS, DEL, DBSIZE, FLUSHDB, FLUSHALL", () => {
    expect(table(harness(), [
      ["MSET a 1 ab 2 abc 3 b 4 [x 5 * 6", "+OK\r\n"],
      [["KEYS", "\\[*"], "*1\r\n$2\r\n[x\r\n"],
      [["KEYS", "\\*"], "*1\r\n$1\r\n*\r\n"],
      ["KEYS [", "*0\r\n"],
      ["KEYS [a", "*1\r\n$1\r\na\r\n"],
      ["KEYS a[", "*0\r\n"],
      [["KEYS", "a\\"], "*0\r\n"],
      ["KEYS [!a]", "*1\r\n$1\r\na\r\n"],
      ["KEYS *c", "*1\r\n$3\r\nabc\r\n"],
      ["KEYS a*b*c", "*1\r\n$3\r\nabc\r\n"],
      ["KEYS *[", "*0\r\n"],
      ["KEYS [a-]", "*1\r\n$1\r\na\r\n"],
      ["KEYS x", "*0\r\n"],
      ["TYPE a", "+string\r\n"],
      ["TYPE nope", "+none\r\n"],
      ["LPUSH l x", ":1\r\n"],
      ["HSET h f v", ":1\r\n"],
      ["SADD s m", ":1\r\n"],
      ["TYPE l", "+list\r\n"],
      ["TYPE h", "+hash\r\n"],
      ["TYPE s", "+set\r\n"],
      ["EXISTS a a nope", ":2\r\n"],
      ["DEL a a nope ab", ":2\r\n"],
      ["DBSIZE", ":7\r\n"],
      ["FLUSHDB x", "-ERR syntax error\r\n"],
      ["FLUSHDB ASYNC", "+OK\r\n"],
      ["FLUSHALL SYNC", "+OK\r\n"],
      ["FLUSHALL 1 2", "-ERR syntax error\r\n"],
      ["FLUSHALL async", "+OK\r\n"],
      ["DBSIZE", ":0\r\n"],
      ["KEYS", "-ERR wrong number of arguments for 'keys' command\r\n"],
      ["KEYS a b", "-ERR wrong number of arguments for 'keys' command\r\n"],
      ["DBSIZE 1", "-ERR wrong number of arguments for 'dbsize' command\r\n"],
      ["TYPE", "-ERR wrong number of arguments for 'type' command\r\n"],
      ["DEL", "-ERR wrong number of arguments for 'del' command\r\n"],
      ["EXISTS", "-ERR wrong number of arguments for 'exists' command\r\n"]
    ])).toEqual([])
  })
})

describe("KEYS (order-free comparisons with redis-server 7.0)", () => {
  it("matches glob patterns over binary keys, skipping expired keys", () => {
    const h = harness()
    h.run([
      "MSET",
      "a",
      "1",
      "ab",
      "2",
      "abc",
      "3",
      "b",
      "4",
      "[x",
      "5",
      "*",
      "6",
      "a\\",
      "7",
      "]",
      "8",
      "\xff\r\n",
      "9"
    ])
    expect(sorted(h.reply("KEYS a?"))).toEqual(["a\\", "ab"])
    expect(sorted(h.reply("KEYS [ab]"))).toEqual(["a", "b"])
    expect(sorted(h.reply("KEYS [^a]"))).toEqual(["*", "]", "b"])
    expect(sorted(h.reply("KEYS [b-a]"))).toEqual(["a", "b"])
    expect(sorted(h.reply("KEYS ?b*"))).toEqual(["ab", "abc"])
    expect(sorted(h.reply(["KEYS", "[\\]]"]))).toEqual(["]"])
    expect(sorted(h.reply(["KEYS", "\xff?\n"]))).toEqual(["\xff\r\n"])
    expect(sorted(h.reply("KEYS *"))).toHaveLength(9)
    h.run("PEXPIRE abc 10")
    h.advance(11)
    expect(sorted(h.reply("KEYS a*"))).toEqual(["a", "a\\", "ab"])
  })
})

describe("Expiry with an injected clock", () => {
  it("expires lazily: a key lives through its expiry millisecond and is gone after", () => {
    const h = harness()
    expect(table(h, [
      ["SET k v", "+OK\r\n"],
      ["EXPIRE k 10", ":1\r\n"],
      ["TTL k", ":10\r\n"]
    ])).toEqual([])
    h.advance(9_400)
    expect(h.run("TTL k")).toBe(":1\r\n") // 600 ms left, rounded
    h.advance(600)
    expect(h.run("PTTL k")).toBe(":0\r\n")
    expect(h.run("EXISTS k")).toBe(":1\r\n")
    h.advance(1)
    expect(table(h, [
      ["EXISTS k", ":0\r\n"],
      ["TTL k", ":-2\r\n"],
      ["TYPE k", "+none\r\n"],
      ["EXPIRE k 10", ":0\r\n"],
      ["PERSIST k", ":0\r\n"],
      ["DEL k", ":0\r\n"]
    ])).toEqual([])
    expect(h.store.stats.expiredKeys).toBe(1)
  })

  it("DBSIZE counts expired keys until they are touched or swept (as Redis); sweep reclaims them", () => {
    const h = harness()
    for (let i = 0; i < 30; i++) h.run(`SET v${i} x PX 100`)
    for (let i = 0; i < 10; i++) h.run(`SET p${i} x`)
    expect(h.run("DBSIZE")).toBe(":40\r\n")
    expect(h.run("INFO keyspace")).toBe("$46\r\n# Keyspace\r\ndb0:keys=40,expires=30,avg_ttl=0\r\n\r\n")
    h.advance(101)
    expect(h.run("DBSIZE")).toBe(":40\r\n")
    expect(h.store.sweep(h.now, 20)).toEqual({ sampled: 20, expired: 20 })
    expect(h.run("DBSIZE")).toBe(":20\r\n")
    expect(h.run("GET v29")).toBe("$-1\r\n") // lazily
    expect(h.run("DBSIZE")).toBe(":19\r\n")
    expect(h.store.sweep(h.now, 20)).toEqual({ sampled: 9, expired: 9 })
    expect(h.run("DBSIZE")).toBe(":10\r\n")
    expect(h.run("INFO keyspace")).toBe("$45\r\n# Keyspace\r\ndb0:keys=10,expires=0,avg_ttl=0\r\n\r\n")
    expect(h.store.stats.expiredKeys).toBe(30)
  })

  it("EXPIRE GT/LT/NX/XX compare with the current TTL; a past time deletes the key", () => {
    const h = harness()
    expect(table(h, [
      ["SET k v", "+OK\r\n"],
      ["PEXPIRE k 1000 NX", ":1\r\n"],
      ["PEXPIRE k 2000 NX", ":0\r\n"],
      ["PEXPIRE k 500 GT", ":0\r\n"],
      ["PEXPIRE k 5000 GT", ":1\r\n"],
      ["PEXPIRE k 6000 LT", ":0\r\n"],
      ["PEXPIRE k 3000 LT", ":1\r\n"],
      ["PTTL k", ":3000\r\n"],
      ["PEXPIRE k 0 XX", ":1\r\n"],
      ["EXISTS k", ":0\r\n"],
      ["DBSIZE", ":0\r\n"]
    ])).toEqual([])
  })

  it("PERSIST keeps the key forever; FLUSHALL clears TTLs too", () => {
    const h = harness()
    expect(table(h, [
      ["SET k v EX 1", "+OK\r\n"],
      ["PERSIST k", ":1\r\n"],
      ["TTL k", ":-1\r\n"],
      ["SET j v EX 1", "+OK\r\n"],
      ["FLUSHALL", "+OK\r\n"],
      ["SET j v", "+OK\r\n"]
    ])).toEqual([])
    h.advance(10_000)
    expect(h.run("EXISTS k j")).toBe(":1\r\n")
    expect(h.store.volatileSize).toBe(0)
  })

  it("expires lists, hashes and sets like strings", () => {
    const h = harness()
    h.run("RPUSH l a")
    h.run("HSET h f v")
    h.run("SADD s m")
    h.run("EXPIRE l 1")
    h.run("EXPIRE h 1")
    h.run("EXPIRE s 1")
    h.advance(1001)
    expect(table(h, [
      ["LLEN l", ":0\r\n"],
      ["HGET h f", "$-1\r\n"],
      ["SCARD s", ":0\r\n"],
      ["RPUSH l b", ":1\r\n"],
      ["TTL l", ":-1\r\n"]
    ])).toEqual([])
  })
})
