import { describe, expect, it } from "@effect/vitest"
import * as Store from "../src/Store.ts"
import { fromKey, integerBytes, own, toKey } from "../src/store/Binary.ts"
import { Deque } from "../src/store/Deque.ts"
import { globMatch } from "../src/store/Glob.ts"
import { bytes, str as text } from "./helpers.ts"

const str = (text: string) => Store.makeString(bytes(text))

describe("Store: expiry", () => {
  it("expires lazily on lookup once now is past the expiry time (not at it)", () => {
    const store = Store.make({ clock: () => 0 })
    store.set("k", str("v"), 1000)
    expect(store.lookup("k", 1000)).toBeDefined()
    expect(store.size).toBe(1)
    expect(store.lookup("k", 1001)).toBeUndefined()
    expect(store.size).toBe(0)
    expect(store.volatileSize).toBe(0)
    expect(store.stats.expiredKeys).toBe(1)
  })

  it("set removes the TTL by default, keeps it with 'keep', replaces it with a time", () => {
    const store = Store.make()
    store.set("k", str("v"), 500)
    store.set("k", str("w"), "keep")
    expect(store.expireAt("k")).toBe(500)
    store.set("k", str("x"), 800)
    expect(store.expireAt("k")).toBe(800)
    store.set("k", str("y"))
    expect(store.expireAt("k")).toBeUndefined()
    expect(store.persist("k")).toBe(false)
  })

  it("sweep examines at most `budget` volatile keys per call and never persistent ones", () => {
    const store = Store.make()
    for (let i = 0; i < 100; i++) store.set(`p${i}`, str("v"))
    for (let i = 0; i < 100; i++) store.set(`v${i}`, str("v"), 10)
    expect(store.size).toBe(200)
    for (let round = 0; round < 5; round++) {
      expect(store.sweep(11, 20)).toEqual({ sampled: 20, expired: 20 })
    }
    expect(store.sweep(11, 20)).toEqual({ sampled: 0, expired: 0 })
    expect(store.size).toBe(100)
    expect(store.stats.expiredKeys).toBe(100)
  })

  it("sweep resumes where it stopped and wraps around, so every key is examined in turn", () => {
    const store = Store.make()
    for (let i = 0; i < 10; i++) store.set(`k${i}`, str("v"), i < 9 ? 1_000_000 : 5)
    // k9 (the last) expires at 5: found on the 4th call of budget 3 (k0-2, k3-5, k6-8, k9...)
    expect(store.sweep(100, 3)).toEqual({ sampled: 3, expired: 0 })
    expect(store.sweep(100, 3)).toEqual({ sampled: 3, expired: 0 })
    expect(store.sweep(100, 3)).toEqual({ sampled: 3, expired: 0 })
    expect(store.sweep(100, 3)).toEqual({ sampled: 3, expired: 1 }) // k9, then wraps to k0, k1
    expect(store.lookup("k9", 0)).toBeUndefined()
    store.set("k0", str("v"), 50) // k0 keeps its place in insertion order
    expect(store.sweep(100, 9)).toEqual({ sampled: 9, expired: 1 }) // k2..k8, wraps, k0 (expired), k1
  })

  it("sweep does at most one pass per call when the budget exceeds the volatile keys", () => {
    const store = Store.make()
    store.set("a", str("v"), 10)
    store.set("b", str("v"), 1000)
    expect(store.sweep(50, 100)).toEqual({ sampled: 2, expired: 1 })
    expect(store.sweep(50, 100)).toEqual({ sampled: 1, expired: 0 })
    expect(Store.make().sweep(0)).toEqual({ sampled: 0, expired: 0 })
  })

  it("sweep copes with keys deleted, re-added and flushed between calls", () => {
    const store = Store.make()
    for (let i = 0; i < 6; i++) store.set(`k${i}`, str("v"), 10)
    store.sweep(0, 2) // cursor after k1
    store.delete("k2")
    store.delete("k3")
    store.set("k3", str("v"), 10)
    expect(store.sweep(20, 10)).toEqual({ sampled: 5, expired: 5 }) // k4 k5 k3, wrap, k0 k1
    expect(store.size).toBe(0)
    store.set("x", str("v"), 10)
    store.sweep(0, 1)
    store.flush()
    store.set("y", str("v"), 10)
    expect(store.sweep(20, 5)).toEqual({ sampled: 1, expired: 1 })
  })

  it("keys() lists everything; isExpired tells without deleting", () => {
    const store = Store.make()
    store.set("a", str("1"), 10)
    store.set("b", str("2"))
    expect([...store.keys()]).toEqual(["a", "b"])
    expect(store.isExpired("a", 11)).toBe(true)
    expect(store.isExpired("b", 11)).toBe(false)
    expect(store.size).toBe(2)
  })
})

describe("Binary keys", () => {
  it("round-trips every byte value, short and long", () => {
    const all = new Uint8Array(256).map((_, i) => i)
    expect(fromKey(toKey(all))).toEqual(all)
    const long = new Uint8Array(20_000).map((_, i) => (i * 7) & 0xff)
    expect(fromKey(toKey(long))).toEqual(long)
    expect(toKey(bytes("ab\xff"))).toBe("ab\xff")
  })

  it("own() copies views and small arrays, keeps large whole arrays", () => {
    const whole = bytes("abc")
    const chunk = bytes("xxabcxx")
    const view = chunk.subarray(2, 5)
    const owned = own(view)
    expect(owned).toEqual(whole)
    expect(owned.buffer).not.toBe(chunk.buffer)
    // small: always a copy (cheaper than reading `.buffer`), whole or not
    const small = own(whole)
    expect(small).toEqual(whole)
    expect(small).not.toBe(whole)
    for (const n of [0, 1, 64]) {
      const a = new Uint8Array(n).map((_, i) => i + 1)
      expect(own(a)).toEqual(a)
      expect(own(a)).not.toBe(a)
    }
    // large: kept when whole, copied when a view
    const large = new Uint8Array(65).map((_, i) => i)
    expect(own(large)).toBe(large)
    const big = new Uint8Array(200).map((_, i) => i)
    const bigView = big.subarray(10, 100)
    const bigOwned = own(bigView)
    expect(bigOwned).toEqual(bigView)
    expect(bigOwned.buffer).not.toBe(big.buffer)
    expect(own(big.subarray(0, 100)).buffer).not.toBe(big.buffer) // offset 0 but not whole
  })

  it("integerBytes() writes the decimal text of any integer", () => {
    const cases: Array<number | bigint> = [
      0,
      -0,
      1,
      -1,
      9,
      10,
      -10,
      99,
      100,
      12345,
      -98765,
      2147483647,
      -2147483647,
      -2147483648,
      2147483648,
      4294967296,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      9223372036854775807n,
      -9223372036854775808n
    ]
    for (const n of cases) expect(text(integerBytes(n))).toBe(String(n))
    for (let n = -1000; n <= 1000; n += 7) expect(text(integerBytes(n))).toBe(String(n))
  })
})

describe("Deque", () => {
  it("pushes and pops at both ends across growth and shrinking", () => {
    const d = new Deque<number>()
    const model: Array<number> = []
    for (let i = 0; i < 1000; i++) {
      if (i % 3 === 0) {
        d.pushFront(i)
        model.unshift(i)
      } else {
        d.pushBack(i)
        model.push(i)
      }
    }
    expect(d.slice(0, d.length)).toEqual(model)
    for (let i = 0; i < 900; i++) {
      expect(i % 2 === 0 ? d.popFront() : d.popBack()).toBe(i % 2 === 0 ? model.shift() : model.pop())
    }
    expect(d.length).toBe(100)
    expect(d.slice(0, 100)).toEqual(model)
    expect(d.at(5)).toBe(model[5])
    while (d.length > 0) d.popBack()
    expect(d.popFront()).toBeUndefined()
    expect(d.popBack()).toBeUndefined()
  })
})

describe("Glob (KEYS / CONFIG GET patterns, checked against redis-server 7.0)", () => {
  const keys = ["a", "ab", "abc", "b", "[x", "*", "a\\", "]", "-"]
  const cases: ReadonlyArray<readonly [string, Array<string>]> = [
    ["*", keys],
    ["a?", ["ab", "a\\"]],
    ["[ab]", ["a", "b"]],
    ["[^a]", ["b", "*", "]", "-"]],
    ["[a-b]*", ["a", "ab", "abc", "b", "a\\"]],
    ["\\[*", ["[x"]],
    ["\\*", ["*"]],
    ["[", []],
    ["[a", ["a"]],
    ["a[", []],
    ["[b-a]", ["a", "b"]],
    ["a\\", ["a\\"]], // a trailing backslash is a literal backslash
    ["a\\\\", ["a\\"]], // an escaped backslash
    ["[\\]]", ["]"]],
    ["[!a]", ["a"]], // '!' is not negation
    ["?b*", ["ab", "abc"]],
    ["*c", ["abc"]],
    ["a*b*c", ["abc"]],
    ["*[", []],
    ["[a-]", ["a", "]"]], // the range a..] (reversed: ] .. a), then an unclosed class
    ["[-]", ["-"]],
    ["x", []],
    ["", []]
  ]
  for (const [pattern, expected] of cases) {
    it(JSON.stringify(pattern), () => {
      expect(keys.filter((k) => globMatch(pattern, k))).toEqual(expected)
    })
  }

  it("matches case-insensitively on request (CONFIG GET)", () => {
    expect(globMatch("MAX*", "maxmemory", true)).toBe(true)
    expect(globMatch("[L-N]ax*", "maxmemory", true)).toBe(true)
    expect(globMatch("MAX*", "maxmemory")).toBe(false)
  })

  it("stays linear-ish on patterns that make naive matchers exponential", () => {
    const text = "a".repeat(5000)
    const started = performance.now()
    expect(globMatch("*a*a*a*a*a*a*a*a*a*a*b", text)).toBe(false)
    expect(globMatch("*a*a*a*a*a*a*a*a*a*a*", text)).toBe(true)
    expect(performance.now() - started).toBeLessThan(2000)
  })
})
