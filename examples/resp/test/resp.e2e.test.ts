/**
 * The RESP example as a real process, driven by clients nobody here wrote:
 * Debian's redis-cli and redis-benchmark, and ioredis from npm.
 */
import Redis from "ioredis"
import { execFile } from "node:child_process"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startExample } from "../../../scripts/example-process.ts"
import type { ExampleProcess } from "../../../scripts/example-process.ts"
import { externalProgram } from "../../../scripts/external-program.ts"
import { resetClients, within } from "../../../scripts/reset-clients.ts"
import { certFiles, redisCliWithoutTls, serverTlsArgs } from "../../../scripts/tls-clients.ts"
import type { CertFiles } from "../../../scripts/tls-clients.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** Debian's redis-tools: the tests that run them skip themselves where they are missing (never on CI). */
const redisCli = externalProgram("redis-cli", "redis-tools")
const redisBenchmark = externalProgram("redis-benchmark", "redis-tools")
for (const p of [redisCli, redisBenchmark]) if (p.skip) console.warn(`examples/resp: ${p.reason}`)
/** Why redis-cli cannot test TLS here (missing, or built without it), or `undefined`; on CI the tests run regardless. */
const redisCliTls = redisCli.available ? redisCliWithoutTls() : redisCli.reason
const skipRedisTls = redisCliTls !== undefined && process.env.CI !== "true"
if (skipRedisTls) console.warn(`examples/resp: ${redisCliTls}`)

describe.each(tested)("examples/resp on %s with real Redis clients", (runtime) => {
  let server: ExampleProcess
  let port = 0

  beforeAll(async () => {
    server = startExample("resp", runtime)
    port = await server.port
  }, 90_000)

  afterAll(async () => {
    server.child.kill("SIGINT")
    await server.exited
  })

  /** Runs redis-cli with args (and optional stdin), resolves stdout as bytes. */
  const cli = (args: Array<string>, stdin?: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const child = execFile(
        "redis-cli",
        ["-p", String(port), ...args],
        { encoding: "buffer", timeout: 20_000 },
        (err, stdout) => err ? reject(err) : resolve(stdout as unknown as Buffer)
      )
      if (stdin) child.stdin!.end(stdin)
      else child.stdin!.end()
    })

  /** Sends raw bytes on a fresh socket and collects everything until the server closes. */
  const raw = (bytes: Buffer | string) =>
    new Promise<{ reply: string; closed: boolean }>((resolve) => {
      const parts: Array<Buffer> = []
      const s = Net.connect({ host: "127.0.0.1", port }, () => s.write(bytes))
      const timer = setTimeout(() => {
        s.destroy()
        resolve({ reply: Buffer.concat(parts).toString("latin1"), closed: false })
      }, 5000)
      s.on("data", (d) => parts.push(d))
      s.on("close", () => {
        clearTimeout(timer)
        resolve({ reply: Buffer.concat(parts).toString("latin1"), closed: true })
      })
      s.on("error", () => {})
    })

  it.skipIf(redisCli.skip)(redisCli.title("redis-cli: replies match Redis's exactly"), async () => {
    const cases: Array<[Array<string>, string]> = [
      [["ping"], "PONG\n"],
      [["ping", "hello world"], "hello world\n"],
      [["set", "k1", "v1"], "OK\n"],
      [["get", "k1"], "v1\n"],
      [["get", "missing"], "\n"],
      [["--no-raw", "get", "missing"], "(nil)\n"],
      [["incr", "counter"], "1\n"],
      [["incrby", "counter", "41"], "42\n"],
      [["--no-raw", "incr", "k1"], "(error) ERR value is not an integer or out of range\n"],
      [["rpush", "list", "a", "b", "c"], "3\n"],
      [["--no-raw", "lrange", "list", "0", "-1"], "1) \"a\"\n2) \"b\"\n3) \"c\"\n"],
      [["--no-raw", "get", "list"], "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n"],
      [["hset", "h", "f1", "x", "f2", "y"], "2\n"],
      [["--no-raw", "hgetall", "h"], "1) \"f1\"\n2) \"x\"\n3) \"f2\"\n4) \"y\"\n"],
      [["sadd", "s", "m"], "1\n"],
      [["scard", "s"], "1\n"],
      [["type", "h"], "hash\n"],
      [
        ["--no-raw", "nosuchcommand", "a"],
        "(error) ERR unknown command 'nosuchcommand', with args beginning with: 'a' \n"
      ],
      [["--no-raw", "get"], "(error) ERR wrong number of arguments for 'get' command\n"],
      [["set", "ttlkey", "v", "EX", "100"], "OK\n"],
      [["ttl", "ttlkey"], "100\n"],
      [["exists", "k1", "list", "nope"], "2\n"],
      [["del", "k1", "list"], "2\n"]
    ]
    for (const [args, expected] of cases) {
      expect({ args, out: (await cli(args)).toString("utf8") }).toEqual({ args, out: expected })
    }
  })

  it.skipIf(redisCli.skip)(
    redisCli.title("redis-cli: binary values with CR/LF and NUL round-trip byte-exact"),
    async () => {
      const value = Buffer.from([0x61, 0x0d, 0x0a, 0x00, 0xff, 0x0d, 0x0a, 0x24, 0x33, 0x0d, 0x0a, 0x62])
      expect((await cli(["-x", "set", "bin"], value)).toString()).toBe("OK\n")
      const got = await cli(["--raw", "get", "bin"])
      expect(got.subarray(0, got.length - 1).equals(value)).toBe(true) // redis-cli adds a newline
      expect((await cli(["strlen", "bin"])).toString()).toBe(`${value.length}\n`)
    }
  )

  it.skipIf(redisBenchmark.skip)(
    redisBenchmark.title("redis-benchmark -q -n 20000 -t set,get,incr,lpush,lpop completes with no errors"),
    async () => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          "redis-benchmark",
          ["-p", String(port), "-q", "-n", "20000", "-t", "set,get,incr,lpush,lpop"],
          { timeout: 120_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout + stderr))
        )
      )
      const finals = out.split(/[\r\n]/).filter((l) => /requests per second/.test(l) && !/rps=/.test(l))
      expect(finals.map((l) => l.split(":")[0]!.trim())).toEqual(["SET", "GET", "INCR", "LPUSH", "LPOP"])
      expect(out).not.toMatch(/ERR|error/i)
    },
    150_000
  )

  it("ioredis: a pipeline of 1000 commands and 50 concurrent clients", async () => {
    const a = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null
    })
    await a.connect()
    const p = a.pipeline()
    for (let i = 0; i < 500; i++) p.set(`p:${i}`, `v${i}`)
    for (let i = 0; i < 500; i++) p.get(`p:${i}`)
    const results = await p.exec()
    expect(results!.length).toBe(1000)
    expect(results!.slice(500).map(([, v]) => v)).toEqual(Array.from({ length: 500 }, (_, i) => `v${i}`))
    await a.del("shared")
    const clients = Array.from(
      { length: 50 },
      () => new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null })
    )
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < 100; i++) await c.incr("shared")
    }))
    expect(await a.get("shared")).toBe("5000")
    expect(await a.hset("hh", { a: "1", b: "2" })).toBe(2)
    expect(await a.hgetall("hh")).toEqual({ a: "1", b: "2" })
    await Promise.all(clients.map((c) => c.quit()))
    await a.quit()
  }, 60_000)

  it("50 clients that reset (at accept and mid-command) leave it serving: later clients are answered", async () => {
    expect(await resetClients(port, 25, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva")).toBe(50)
    const c = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null
    })
    c.on("error", () => {}) // a failure shows up as the rejected command below
    try {
      await within(
        10_000,
        "Redis commands after the resets",
        (async () => {
          await c.connect()
          expect(await c.set("after-resets", "fine")).toBe("OK")
          expect(await c.get("after-resets")).toBe("fine")
          expect(await c.ping()).toBe("PONG")
        })()
      )
    } finally {
      c.disconnect()
    }
  }, 60_000)

  it("malformed input gets a protocol error and a close of that connection only", async () => {
    const watcher = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null })
    await watcher.set("survivor", "intact")
    const bad: Array<[string, RegExp]> = [
      ["*1\r\n$abc\r\n", /^-ERR Protocol error: invalid bulk length\r\n$/],
      ["*1\r\n$-5\r\n", /^-ERR Protocol error: invalid bulk length\r\n$/],
      ["*1\r\n$1073741824\r\n", /^-ERR Protocol error: invalid bulk length\r\n$/],
      ["*abc\r\n", /^-ERR Protocol error: invalid multibulk length\r\n$/],
      ["*3\r\n$3\r\nSET\r\n$1\r\nk\r\nXYZ\r\n", /^-ERR Protocol error: expected '\$', got 'X'\r\n$/]
    ]
    for (const [input, expected] of bad) {
      const { reply, closed } = await raw(input)
      expect({ input, reply }).toEqual({ input, reply: expect.stringMatching(expected) })
      expect(closed).toBe(true)
    }
    // garbage and an inline command before it: the valid command is answered, then the error
    const mixed = await raw("PING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$x\r\n")
    expect(mixed.reply.startsWith("+PONG\r\n+PONG\r\n-ERR Protocol error")).toBe(true)
    expect(mixed.closed).toBe(true)
    // the other connection never noticed
    expect(await watcher.get("survivor")).toBe("intact")
    expect(await watcher.ping()).toBe("PONG")
    await watcher.quit()
  }, 60_000)
})

describe.each(tested)("examples/resp on %s with --tls-cert/--tls-key, with redis-cli --tls", (runtime) => {
  describe("served over TLS", () => {
    let files: CertFiles
    let server: ExampleProcess
    let port = 0

    beforeAll(async () => {
      files = certFiles()
      server = startExample("resp", runtime, serverTlsArgs(files))
      port = await server.port
    }, 90_000)

    afterAll(async () => {
      server?.child.kill("SIGINT")
      await server?.exited
      files?.remove()
    })

    /** Runs redis-cli with `args`; its exit code and output. */
    const redis = (args: Array<string>) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          "redis-cli",
          ["-p", String(port), ...args],
          { timeout: 20_000 },
          (err, stdout, stderr) =>
            resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr })
        )
      )

    const title = skipRedisTls
      ? `redis-cli --tls --cacert: set, get and ping are answered [skipped: ${redisCliTls}]`
      : "redis-cli --tls --cacert: set, get and ping are answered; without --tls it gets no answer"
    it.skipIf(skipRedisTls)(title, async () => {
      const tls = ["--tls", "--cacert", files.ca]
      expect(await redis([...tls, "set", "a", "b"])).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
      const [get, ping, plain] = await Promise.all([
        redis([...tls, "get", "a"]),
        redis([...tls, "ping", "over TLS"]),
        redis(["get", "a"])
      ])
      expect(get).toEqual({ code: 0, stdout: "b\n", stderr: "" })
      expect(ping).toEqual({ code: 0, stdout: "over TLS\n", stderr: "" })
      // plain RESP on the TLS port is not a handshake: the server closes, or first sends a TLS alert
      // record (type 0x15), which redis-cli reads as a reply type it does not know; never a RESP reply
      expect(plain.code).not.toBe(0)
      expect(plain.stdout).not.toMatch(/^b$/m)
      expect(plain.stdout + plain.stderr).toMatch(
        /Server closed the connection|reset by peer|Protocol error, got "\\x15" as reply type byte/
      )
      expect(server.output()).toMatch(/RESP server listening on 127\.0\.0\.1:\d+ with TLS; try: redis-cli --tls -p \d+/)
    }, 60_000)
  })
})
