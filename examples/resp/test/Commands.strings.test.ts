import { describe, expect, it } from "@effect/vitest"
import { execute } from "../src/Commands.ts"
import * as Resp from "../src/Resp.ts"
import { bytes, encode, harness, table } from "./helpers.ts"

describe("String commands: replies recorded from redis-server 7.0", () => {
  it("SET options, GET, GETSET", () => {
    expect(table(harness(), [
      ["SET a 1", "+OK\r\n"],
      ["GET a", "$1\r\n1\r\n"],
      ["SET a 2 NX", "$-1\r\n"],
      ["SET a 2 XX GET", "$1\r\n1\r\n"],
      ["SET b 2 NX GET", "$-1\r\n"],
      ["SET a 3 NX XX", "-ERR syntax error\r\n"],
      ["SET a 3 EX 0", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 3 EX -1", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 3 EX x", "-ERR value is not an integer or out of range\r\n"],
      ["SET a 3 EX 10 PX 100", "-ERR syntax error\r\n"],
      ["SET a 3 KEEPTTL EX 1", "-ERR syntax error\r\n"],
      ["SET a 3 EX 9223372036854775", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 3 EX 9223372036854775807", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 3 PX 9223372036854775807", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 3 FOO", "-ERR syntax error\r\n"],
      ["LPUSH l x", ":1\r\n"],
      ["SET l v GET", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["GET l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["GETSET l x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["GETSET a z", "$1\r\n2\r\n"],
      ["SET a 1 EX", "-ERR syntax error\r\n"],
      ["SET a 1 EXAT 1", "+OK\r\n"],
      ["GET a", "$-1\r\n"],
      ["SET a 1 ex 100", "+OK\r\n"],
      ["TTL a", ":100\r\n"],
      ["SET a 2 keepttl", "+OK\r\n"],
      ["TTL a", ":100\r\n"],
      ["SET a 3", "+OK\r\n"],
      ["TTL a", ":-1\r\n"],
      ["SET a 3 EX 10 EX 10", "+OK\r\n"],
      ["SET a 3 NX NX", "$-1\r\n"],
      ["SET a 3 GET GET", "$1\r\n3\r\n"],
      ["SET a 4 PX 1.5", "-ERR value is not an integer or out of range\r\n"],
      ["SET a 4 EX 09", "-ERR value is not an integer or out of range\r\n"],
      ["SET a 4 EX 9223372036854776", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 4 PXAT 0", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 4 EXAT -5", "-ERR invalid expire time in 'set' command\r\n"],
      ["SET a 4 PX 100 KEEPTTL", "-ERR syntax error\r\n"],
      ["SET a 4 KEEPTTL KEEPTTL", "+OK\r\n"],
      ["SET a 4 KEEPTTL GET", "$1\r\n4\r\n"]
    ])).toEqual([])
  })

  it("INCR/DECR family, APPEND, STRLEN, MGET, MSET", () => {
    expect(table(harness(), [
      ["INCR n", ":1\r\n"],
      ["INCRBY n 10", ":11\r\n"],
      ["DECRBY n 20", ":-9\r\n"],
      ["DECR n", ":-10\r\n"],
      ["SET n 9223372036854775806", "+OK\r\n"],
      ["INCR n", ":9223372036854775807\r\n"],
      ["INCR n", "-ERR increment or decrement would overflow\r\n"],
      ["SET n -9223372036854775808", "+OK\r\n"],
      ["DECR n", "-ERR increment or decrement would overflow\r\n"],
      ["DECRBY n -9223372036854775808", "-ERR decrement would overflow\r\n"],
      ["SET m 5", "+OK\r\n"],
      ["DECRBY m -9223372036854775808", "-ERR decrement would overflow\r\n"],
      ["INCRBY m 9223372036854775808", "-ERR value is not an integer or out of range\r\n"],
      ["INCRBY m x", "-ERR value is not an integer or out of range\r\n"],
      ["INCRBY m 9223372036854775807", "-ERR increment or decrement would overflow\r\n"],
      ["INCRBY m -9223372036854775808", ":-9223372036854775803\r\n"],
      ["DECRBY m 9223372036854775807", "-ERR increment or decrement would overflow\r\n"],
      ["SET s abc", "+OK\r\n"],
      ["INCR s", "-ERR value is not an integer or out of range\r\n"],
      ["SET s +1", "+OK\r\n"],
      ["INCR s", "-ERR value is not an integer or out of range\r\n"],
      ["SET s 01", "+OK\r\n"],
      ["INCR s", "-ERR value is not an integer or out of range\r\n"],
      ["SET s -0", "+OK\r\n"],
      ["INCR s", "-ERR value is not an integer or out of range\r\n"],
      ["SET s 1.0", "+OK\r\n"],
      ["INCR s", "-ERR value is not an integer or out of range\r\n"],
      ["LPUSH l a", ":1\r\n"],
      ["INCR l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["INCRBY l x", "-ERR value is not an integer or out of range\r\n"],
      ["APPEND s2 ab", ":2\r\n"],
      ["APPEND s2 cd", ":4\r\n"],
      ["STRLEN s2", ":4\r\n"],
      ["STRLEN nope", ":0\r\n"],
      ["STRLEN l", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["APPEND l x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["MGET s2 l nope", "*3\r\n$4\r\nabcd\r\n$-1\r\n$-1\r\n"],
      ["MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n"],
      ["MSET a 1 b 2", "+OK\r\n"],
      ["MGET a b", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"],
      ["INCRBY m 1 2", "-ERR wrong number of arguments for 'incrby' command\r\n"],
      ["SET big 99999999999999999999", "+OK\r\n"],
      ["INCR big", "-ERR value is not an integer or out of range\r\n"],
      ["SET z 0", "+OK\r\n"],
      ["INCRBY z -0", "-ERR value is not an integer or out of range\r\n"],
      ["INCRBY z 0010", "-ERR value is not an integer or out of range\r\n"],
      ["SET w 999999999999999", "+OK\r\n"],
      ["INCR w", ":1000000000000000\r\n"],
      ["INCRBY w 999999999999999", ":1999999999999999\r\n"],
      ["SET w -999999999999999", "+OK\r\n"],
      ["DECRBY w 999999999999999", ":-1999999999999998\r\n"],
      ["INCRBY w 1000000000000000000", ":998000000000000002\r\n"],
      ["SET w 9007199254740993", "+OK\r\n"],
      ["INCR w", ":9007199254740994\r\n"],
      ["GET w", "$16\r\n9007199254740994\r\n"],
      ["INCR", "-ERR wrong number of arguments for 'incr' command\r\n"],
      ["DECR a b", "-ERR wrong number of arguments for 'decr' command\r\n"],
      ["GETSET a", "-ERR wrong number of arguments for 'getset' command\r\n"]
    ])).toEqual([])
  })
})

describe("String commands: binary safety and storage", () => {
  it("keeps keys and values binary-safe (CR, LF, NUL, 0xff), distinct by bytes", () => {
    const h = harness()
    const key = "k\r\n\x00\xff"
    const value = "v\r\n\x00\xff\r\n"
    expect(h.run(["SET", key, value])).toBe("+OK\r\n")
    expect(h.run(["GET", key])).toBe(`$7\r\n${value}\r\n`)
    expect(h.run(["GET", "k\r\n\x00\xc3\xbf"])).toBe("$-1\r\n") // UTF-8 of U+00FF: other bytes
    expect(h.run(["MSET", "\xff", "1", "\xc3\xbf", "2"])).toBe("+OK\r\n")
    expect(h.run(["MGET", "\xff", "\xc3\xbf"])).toBe("*2\r\n$1\r\n1\r\n$1\r\n2\r\n")
  })

  it("copies values that are views of a chunk (the chunk may be reused by the caller)", () => {
    const h = harness()
    const chunk = bytes("xxSETkeyvaluexx")
    const args = [chunk.subarray(2, 5), chunk.subarray(5, 8), chunk.subarray(8, 13)]
    expect(encode(execute(h.store, args, h.session))).toBe("+OK\r\n")
    chunk.fill(0)
    expect(h.run("GET key")).toBe("$5\r\nvalue\r\n")
  })

  it("APPEND grows in place without changing replies already handed out", () => {
    const h = harness()
    h.run("SET s ab")
    const first = h.reply("GET s")
    for (let i = 0; i < 200; i++) h.run("APPEND s c")
    const before = h.reply("GET s")
    expect(h.run("APPEND s d")).toBe(":203\r\n")
    expect(encode(first)).toBe("$2\r\nab\r\n")
    expect(encode(before)).toBe(`$202\r\nab${"c".repeat(200)}\r\n`)
    expect(h.run("GET s")).toBe(`$203\r\nab${"c".repeat(200)}d\r\n`)
    expect(h.run("STRLEN s")).toBe(":203\r\n")
  })

  it("INCR replaces the bytes without changing replies already handed out, or the key's order", () => {
    const h = harness()
    h.run("SET a 9")
    h.run("SET n 99")
    h.run("SET z 1")
    const first = h.reply("GET n")
    expect(h.run("INCR n")).toBe(":100\r\n")
    const second = h.reply("GET n")
    expect(h.run("DECRBY n 2147483748")).toBe(":-2147483648\r\n")
    expect(encode(first)).toBe("$2\r\n99\r\n")
    expect(encode(second)).toBe("$3\r\n100\r\n")
    expect(h.run("GET n")).toBe("$11\r\n-2147483648\r\n")
    expect(h.run("KEYS *")).toBe("*3\r\n$1\r\na\r\n$1\r\nn\r\n$1\r\nz\r\n")
  })

  it("INCR works exactly beyond 2^53 and across the int64 range", () => {
    const h = harness()
    expect(table(h, [
      ["SET n 9007199254740991", "+OK\r\n"],
      ["INCRBY n 2", ":9007199254740993\r\n"],
      ["GET n", "$16\r\n9007199254740993\r\n"],
      ["INCRBY n -9007199254740993", ":0\r\n"],
      ["DECRBY n 9223372036854775807", ":-9223372036854775807\r\n"],
      ["DECR n", ":-9223372036854775808\r\n"],
      ["DECR n", "-ERR increment or decrement would overflow\r\n"],
      ["GET n", "$20\r\n-9223372036854775808\r\n"],
      ["SET m 999999999999999", "+OK\r\n"],
      ["INCRBY m 999999999999999", ":1999999999999998\r\n"]
    ])).toEqual([])
  })
})

describe("String commands: expiry with an injected clock", () => {
  it("SET EX/PX/EXAT/PXAT, KEEPTTL, and lazy expiry on GET", () => {
    const h = harness(1_000_000)
    expect(table(h, [
      ["SET a 1 EX 10", "+OK\r\n"],
      ["SET b 1 PX 1500", "+OK\r\n"],
      ["SET c 1 EXAT 1005", "+OK\r\n"],
      ["SET d 1 PXAT 1000500", "+OK\r\n"],
      ["PTTL a", ":10000\r\n"],
      ["TTL b", ":2\r\n"],
      ["PTTL c", ":5000\r\n"],
      ["PTTL d", ":500\r\n"]
    ])).toEqual([])
    h.advance(500)
    expect(h.run("GET d")).toBe("$1\r\n1\r\n") // at its time: still there
    h.advance(1)
    expect(h.run("GET d")).toBe("$-1\r\n")
    expect(h.run("SET b 2 KEEPTTL")).toBe("+OK\r\n")
    expect(h.run("PTTL b")).toBe(":999\r\n")
    h.advance(1000)
    expect(h.run("GET b")).toBe("$-1\r\n")
    expect(h.run("SET c 2")).toBe("+OK\r\n") // plain SET removes the TTL
    h.advance(1_000_000)
    expect(h.run("GET c")).toBe("$1\r\n2\r\n")
    expect(h.run("GET a")).toBe("$-1\r\n")
  })

  it("INCR and APPEND keep the TTL, GETSET and MSET remove it, SET NX sees expired keys as missing", () => {
    const h = harness()
    expect(table(h, [
      ["SET n 1 PX 1000", "+OK\r\n"],
      ["INCR n", ":2\r\n"],
      ["APPEND n 0", ":2\r\n"],
      ["PTTL n", ":1000\r\n"],
      ["GETSET n 5", "$2\r\n20\r\n"],
      ["PTTL n", ":-1\r\n"],
      ["SET m 1 PX 10", "+OK\r\n"],
      ["MSET m 2", "+OK\r\n"],
      ["PTTL m", ":-1\r\n"],
      ["SET x 1 PX 10", "+OK\r\n"]
    ])).toEqual([])
    h.advance(11)
    expect(h.run("SET x 2 NX GET")).toBe("$-1\r\n")
    expect(h.run("GET x")).toBe("$1\r\n2\r\n")
  })

  it("plain SET reclaims an expired key first (counted), as with NX/XX/GET", () => {
    const h = harness()
    h.run("SET a 1 PX 10")
    h.run("SET b 1")
    h.advance(11)
    expect(h.store.stats.expiredKeys).toBe(0)
    expect(h.run("SET a 2")).toBe("+OK\r\n")
    expect(h.store.stats.expiredKeys).toBe(1)
    expect(h.run("PTTL a")).toBe(":-1\r\n")
    expect(h.run("SET b 2")).toBe("+OK\r\n") // no TTL anywhere now
    expect(h.store.stats.expiredKeys).toBe(1)
    expect(h.run("MGET a b")).toBe("*2\r\n$1\r\n2\r\n$1\r\n2\r\n")
  })

  it("answers null as _ in RESP3", () => {
    const h = harness()
    h.session.protocol = 3
    expect(h.run("GET nope")).toBe("_\r\n")
    expect(h.run("MGET nope")).toBe("*1\r\n_\r\n")
    expect(encode(Resp.nullBulk, 3)).toBe("_\r\n")
  })
})
