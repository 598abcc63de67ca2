import { describe, expect, it } from "@effect/vitest"
import { harness, table } from "./helpers.ts"

describe("List, hash and set commands: replies recorded from redis-server 7.0", () => {
  it("LPUSH RPUSH LPOP RPOP LLEN LRANGE", () => {
    expect(table(harness(), [
      ["RPUSH l a b c d e", ":5\r\n"],
      ["LPUSH l z y", ":7\r\n"],
      ["LRANGE l 0 -1", "*7\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"],
      ["LRANGE l -3 -1", "*3\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"],
      ["LRANGE l 5 2", "*0\r\n"],
      ["LRANGE l -100 1", "*2\r\n$1\r\ny\r\n$1\r\nz\r\n"],
      ["LRANGE l 3 100", "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"],
      ["LRANGE l 10 20", "*0\r\n"],
      ["LRANGE l -100 -50", "*0\r\n"],
      ["LRANGE l -1 -2", "*0\r\n"],
      ["LRANGE l x 1", "-ERR value is not an integer or out of range\r\n"],
      ["LRANGE l 1 x", "-ERR value is not an integer or out of range\r\n"],
      ["LRANGE nope 0 -1", "*0\r\n"],
      ["LRANGE nope x 1", "-ERR value is not an integer or out of range\r\n"],
      ["LLEN l", ":7\r\n"],
      ["LLEN nope", ":0\r\n"],
      ["LPOP l", "$1\r\ny\r\n"],
      ["RPOP l", "$1\r\ne\r\n"],
      ["LPOP l 2", "*2\r\n$1\r\nz\r\n$1\r\na\r\n"],
      ["RPOP l 0", "*0\r\n"],
      ["LPOP l -1", "-ERR value is out of range, must be positive\r\n"],
      ["LPOP l x", "-ERR value is out of range, must be positive\r\n"],
      ["LPOP nope x", "-ERR value is out of range, must be positive\r\n"],
      ["LPOP nope", "$-1\r\n"],
      ["LPOP nope 2", "*-1\r\n"],
      ["LPOP nope 0", "*-1\r\n"],
      ["RPOP l 10", "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n"],
      ["EXISTS l", ":0\r\n"],
      ["LPOP l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n"],
      ["SET s v", "+OK\r\n"],
      ["LPUSH s x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["LLEN s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["LRANGE s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["LPOP s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["LPOP s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["RPUSH l", "-ERR wrong number of arguments for 'rpush' command\r\n"],
      ["LPUSH l a", ":1\r\n"],
      ["LPOP l 0", "*0\r\n"],
      ["LRANGE l 9223372036854775807 -9223372036854775808", "*0\r\n"],
      ["LRANGE l 9223372036854775808 1", "-ERR value is not an integer or out of range\r\n"],
      ["RPUSH l b c", ":3\r\n"],
      ["RPOP l 2", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"],
      ["RPOP l", "$1\r\na\r\n"],
      ["LPOP l 9223372036854775807", "*-1\r\n"]
    ])).toEqual([])
  })

  it("HSET HGET HDEL HGETALL SADD SREM SMEMBERS SCARD", () => {
    expect(table(harness(), [
      ["HSET h a 1 b 2", ":2\r\n"],
      ["HSET h a 3 c 4", ":1\r\n"],
      ["HSET h a", "-ERR wrong number of arguments for 'hset' command\r\n"],
      ["HSET h a 1 b", "-ERR wrong number of arguments for 'hset' command\r\n"],
      ["HGET h a", "$1\r\n3\r\n"],
      ["HGET h zz", "$-1\r\n"],
      ["HGET nope a", "$-1\r\n"],
      ["HGETALL h", "*6\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n4\r\n"],
      ["HGETALL nope", "*0\r\n"],
      ["HDEL h a zz", ":1\r\n"],
      ["HDEL h b c", ":2\r\n"],
      ["EXISTS h", ":0\r\n"],
      ["HDEL nope a", ":0\r\n"],
      ["SET s v", "+OK\r\n"],
      ["HGET s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["HSET s a b", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["HGETALL s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["HDEL s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["HDEL s", "-ERR wrong number of arguments for 'hdel' command\r\n"],
      ["HGET s", "-ERR wrong number of arguments for 'hget' command\r\n"],
      ["HGETALL", "-ERR wrong number of arguments for 'hgetall' command\r\n"],
      ["SADD t a b a c", ":3\r\n"],
      ["SADD t a d", ":1\r\n"],
      ["SCARD t", ":4\r\n"],
      ["SCARD nope", ":0\r\n"],
      ["SMEMBERS nope", "*0\r\n"],
      ["SREM t a zz", ":1\r\n"],
      ["SREM t b c d", ":3\r\n"],
      ["EXISTS t", ":0\r\n"],
      ["SADD s x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["SMEMBERS s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["SCARD s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["SREM s x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"],
      ["SADD t 3", ":1\r\n"],
      ["SMEMBERS t", "*1\r\n$1\r\n3\r\n"],
      ["SADD t", "-ERR wrong number of arguments for 'sadd' command\r\n"],
      ["SREM t", "-ERR wrong number of arguments for 'srem' command\r\n"]
    ])).toEqual([])
  })
})

describe("Collections: RESP3, binary members, emptied keys", () => {
  it("answers HGETALL with a map and SMEMBERS with a set in RESP3, arrays in RESP2", () => {
    const h = harness()
    h.run("HSET h a 1 b 2")
    h.run("SADD s x")
    expect(h.run("HGETALL h")).toBe("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n")
    expect(h.run("SMEMBERS s")).toBe("*1\r\n$1\r\nx\r\n")
    h.session.protocol = 3
    expect(table(h, [
      ["HGETALL h", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"],
      ["SMEMBERS s", "~1\r\n$1\r\nx\r\n"],
      ["HGETALL nope", "%0\r\n"],
      ["SMEMBERS nope", "~0\r\n"],
      ["HGET h zz", "_\r\n"],
      ["LPOP nope", "_\r\n"],
      ["LPOP nope 2", "_\r\n"],
      ["LRANGE nope 0 -1", "*0\r\n"]
    ])).toEqual([])
  })

  it("keeps binary members and fields", () => {
    const h = harness()
    expect(table(h, [
      [["RPUSH", "l", "a\r\n", "\x00", "\xff"], ":3\r\n"],
      ["LRANGE l 0 -1", "*3\r\n$3\r\na\r\n\r\n$1\r\n\x00\r\n$1\r\n\xff\r\n"],
      [["HSET", "h", "f\r\n", "v\n"], ":1\r\n"],
      ["HGETALL h", "*2\r\n$3\r\nf\r\n\r\n$2\r\nv\n\r\n"],
      [["SADD", "s", "\xff", "\xc3\xbf"], ":2\r\n"],
      [["SREM", "s", "\xff"], ":1\r\n"],
      ["SMEMBERS s", "*1\r\n$2\r\n\xc3\xbf\r\n"]
    ])).toEqual([])
  })

  it("deletes a key when its last element goes", () => {
    const h = harness()
    expect(table(h, [
      ["RPUSH l a b", ":2\r\n"],
      ["LPOP l 5", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"],
      ["TYPE l", "+none\r\n"],
      ["HSET h f v", ":1\r\n"],
      ["HDEL h f", ":1\r\n"],
      ["TYPE h", "+none\r\n"],
      ["SADD s m", ":1\r\n"],
      ["SREM s m", ":1\r\n"],
      ["TYPE s", "+none\r\n"],
      ["DBSIZE", ":0\r\n"]
    ])).toEqual([])
  })

  it("pushes several elements in argument order (LPUSH reverses them)", () => {
    const h = harness()
    expect(table(h, [
      ["LPUSH l a b c", ":3\r\n"],
      ["RPUSH l d e", ":5\r\n"],
      ["LRANGE l 0 -1", "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n"],
      ["RPOP l 2", "*2\r\n$1\r\ne\r\n$1\r\nd\r\n"]
    ])).toEqual([])
  })

  it("handles long lists through growth and LRANGE windows", () => {
    const h = harness()
    for (let i = 0; i < 1000; i++) h.run(`RPUSH l ${i}`)
    for (let i = 0; i < 500; i++) h.run(`LPOP l`)
    expect(h.run("LLEN l")).toBe(":500\r\n")
    expect(h.run("LRANGE l 0 1")).toBe("*2\r\n$3\r\n500\r\n$3\r\n501\r\n")
    expect(h.run("LRANGE l -2 -1")).toBe("*2\r\n$3\r\n998\r\n$3\r\n999\r\n")
  })
})
