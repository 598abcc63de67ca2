/**
 * The kv example as `npm start -- --example kv --runtime X` runs it, on every
 * runtime, driven by the CLI (`node examples/kv/dist/cli.js`) run
 * as separate processes, the way a user runs them.
 */
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, runCli, startExample as start } from "../../../scripts/example-process.ts"
import { resetClients, within } from "../../../scripts/reset-clients.ts"
import { certFiles, serverTlsArgs } from "../../../scripts/tls-clients.ts"
import type { CertFiles } from "../../../scripts/tls-clients.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** Starts the example on `runtime`, port 0 (see scripts/example-process.ts). */
const startExample = (runtime: string, args: Array<string> = []) => start("kv", runtime, args)

/** Runs the CLI to completion (killed after 60 s). */
const cli = (args: Array<string>) => runCli("kv", args)

/**
 * Sets `entries` over one raw connection, pipelined, in the protocol's JSON
 * envelope (4-byte big-endian length + JSON): a quick way to fill the store
 * (one CLI process per key would take minutes). Resolves once every `Set`
 * is answered with a success.
 */
const fill = (port: number, entries: ReadonlyArray<readonly [string, string]>) =>
  new Promise<void>((resolve, reject) => {
    const socket = Net.connect(port, "127.0.0.1")
    let pending = Buffer.alloc(0)
    let answered = 0
    socket.on("data", (data: Buffer) => {
      pending = Buffer.concat([pending, data])
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const length = pending.readUInt32BE(0)
        const answer = JSON.parse(pending.subarray(4, 4 + length).toString())
        pending = pending.subarray(4 + length)
        if (!("success" in answer)) {
          socket.destroy()
          return reject(new Error(`Set answered with ${JSON.stringify(answer)}`))
        }
        if (++answered === entries.length) {
          socket.end()
          resolve()
        }
      }
    })
    socket.on("error", reject)
    socket.write(Buffer.concat(entries.map(([key, value], i) => {
      const body = Buffer.from(JSON.stringify({ id: i + 1, request: { _tag: "Set", key, value } }))
      const head = Buffer.alloc(4)
      head.writeUInt32BE(body.length)
      return Buffer.concat([head, body])
    })))
  })

describe.each(tested)("examples/kv on %s (the process npm start runs), with the CLI", (runtime) => {
  let ex: ReturnType<typeof startExample>
  let port: string
  const kv = (...args: Array<string>) => cli(["--port", port, ...args])

  beforeAll(async () => {
    ex = startExample(runtime)
    port = String(await ex.port)
  }, 90_000)

  afterAll(() => {
    if (ex.child.exitCode === null && ex.child.signalCode === null) ex.child.kill("SIGKILL")
  })

  it("set, get, del, incr, keys: exact stdout and exit statuses", async () => {
    // independent chains run at once (each CLI process pays for its own startup)
    const value = "héllo wörld 😀 \"quoted\" with  spaces"
    const greeting = async () => {
      expect(await kv("set", "greeting", value)).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
      expect(await kv("get", "greeting")).toEqual({ code: 0, stdout: `${value}\n`, stderr: "" })
      expect(await kv("del", "greeting")).toEqual({ code: 0, stdout: "1\n", stderr: "" })
      expect(await kv("get", "greeting")).toEqual({ code: 1, stdout: "", stderr: "kv: no such key: greeting\n" })
      expect(await kv("del", "greeting")).toEqual({ code: 0, stdout: "0\n", stderr: "" })
    }
    const counter = async () => {
      expect(await kv("set", "counter", "--", "-3")).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
      expect(await kv("incr", "counter", "10")).toEqual({ code: 0, stdout: "7\n", stderr: "" })
    }
    const fruit = async () => {
      await Promise.all([kv("set", "fruit:pear", "1"), kv("set", "fruit:apple", "2")])
      expect(await kv("keys", "fruit:")).toEqual({ code: 0, stdout: "fruit:apple\nfruit:pear\n", stderr: "" })
    }
    await Promise.all([greeting(), counter(), fruit()])
  }, 90_000)

  it("a typed error from the server: exit 3 and its message on stderr, nothing on stdout", async () => {
    const notAnInteger = async () => {
      expect(await kv("set", "word", "abc")).toMatchObject({ code: 0 })
      return kv("incr", "word")
    }
    const [tooLong, notInt] = await Promise.all([kv("get", "k".repeat(300)), notAnInteger()])
    expect(tooLong).toEqual({ code: 3, stdout: "", stderr: "kv: KeyTooLong: key is 300 bytes, the limit is 256\n" })
    expect(notInt.code).toBe(3)
    expect(notInt.stdout).toBe("")
    expect(notInt.stderr).toMatch(/^kv: NotAnInteger: /)
  }, 90_000)

  it(
    "bench --requests 2000 completes, with a progress line and req/s, p50, p99 (also on a pool of 3 connections)",
    async () => {
      const [one, pool] = await Promise.all([
        kv("bench", "--requests", "2000"),
        kv("bench", "--requests", "2000", "--concurrency", "30", "--connections", "3")
      ])
      for (const run of [one, pool]) {
        expect(run.code).toBe(0)
        expect(run.stdout).toMatch(/^completed: 2000 ok, 0 errors in \d+\.\d\d s$/m)
        const rate = /^throughput: (\d+) req\/s$/m.exec(run.stdout)
        expect(rate).not.toBeNull()
        expect(Number(rate![1])).toBeGreaterThan(0)
        expect(run.stdout).toMatch(/^latency: p50 \d+\.\d\d ms, p99 \d+\.\d\d ms, max \d+\.\d\d ms$/m)
        // one line redrawn with \r: it ends at 100%, at most once per percent (or per second)
        expect(run.stderr).toMatch(/\r\[#{30}\] 100% 2000\/2000 \d+ req\/s *\n$/)
        const seconds = Number(/ in (\d+\.\d\d) s$/m.exec(run.stdout)![1])
        const draws = run.stderr.split("\r").length - 1
        expect(draws).toBeGreaterThan(0)
        expect(draws).toBeLessThanOrEqual(101 + Math.ceil(seconds))
        expect(run.stderr.split("\n").length).toBe(2) // a single line (and its final newline)
      }
      expect(pool.stdout).toMatch(/30 concurrent, 3 connection\(s\)/)
    },
    90_000
  )

  it(
    "scan: KEY<TAB>VALUE lines in key order, --limit stops early, a large scan goes through flow control, a long prefix exits 3",
    async () => {
      const bulk = Array.from({ length: 6000 }, (_, i) => [`bulk:${String(i).padStart(4, "0")}`, `value ${i}`] as const)
      await Promise.all([
        kv("set", "scan:b", "two words"),
        kv("set", "scan:c", "😀"),
        kv("set", "scan:a", "1"),
        fill(Number(port), [...bulk].reverse()) // stored out of order: the server sorts
      ])
      const [few, limited, all, first, tooLong] = await Promise.all([
        kv("scan", "scan:"),
        kv("scan", "scan:", "--limit", "2"),
        kv("scan", "bulk:"), // more than the server sends ahead of the client's acks
        kv("scan", "bulk:", "--limit", "5"),
        kv("scan", "k".repeat(300))
      ])
      expect(few).toEqual({ code: 0, stdout: "scan:a\t1\nscan:b\ttwo words\nscan:c\t😀\n", stderr: "" })
      expect(limited).toEqual({ code: 0, stdout: "scan:a\t1\nscan:b\ttwo words\n", stderr: "" })
      expect(all.code).toBe(0)
      expect(all.stderr).toBe("")
      expect(all.stdout).toBe(bulk.map(([key, value]) => `${key}\t${value}\n`).join(""))
      expect(first).toEqual({
        code: 0,
        stdout: bulk.slice(0, 5).map(([key, value]) => `${key}\t${value}\n`).join(""),
        stderr: ""
      })
      expect(tooLong).toEqual({ code: 3, stdout: "", stderr: "kv: KeyTooLong: key is 300 bytes, the limit is 256\n" })
      // the scans stopped early leave the server serving
      expect(await kv("keys", "scan:")).toEqual({ code: 0, stdout: "scan:a\nscan:b\nscan:c\n", stderr: "" })
    },
    90_000
  )

  it("50 clients that reset (at accept and mid-frame) leave it serving: the CLI then works as usual", async () => {
    // the partial request: a frame header that announces more bytes than follow
    expect(await resetClients(Number(port), 25, new Uint8Array([0, 0, 0, 64, 1, 2, 3]))).toBe(50)
    // two CLI processes at once (each pays a node + tsx start-up), served within 15 s
    const [set, get] = await within(
      15_000,
      "the CLI after the resets",
      Promise.all([kv("set", "after-resets", "fine"), kv("get", "never-set")])
    )
    expect(set).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
    expect(get).toEqual({ code: 1, stdout: "", stderr: "kv: no such key: never-set\n" })
  }, 90_000)

  it("exits 0 on SIGINT", async () => {
    ex.child.kill("SIGINT")
    expect(await ex.exited).toBe(0)
    expect(ex.output()).toMatch(/shut down/)
  }, 90_000)
})

describe("the kv CLI without a server", () => {
  it("exits 4 with a clear message when the connection is refused", async () => {
    const port = await freePort()
    const [run, bench] = await Promise.all([
      cli(["--port", String(port), "get", "anything"]),
      cli(["--port", String(port), "bench", "--requests", "10"])
    ])
    expect(run).toEqual({
      code: 4,
      stdout: "",
      stderr:
        `kv: cannot connect to 127.0.0.1:${port}: connection refused (is the server running? npm start -- --example kv)\n`
    })
    expect(bench.code).toBe(4)
    expect(bench.stderr).toMatch(/connection refused/)
  }, 90_000)

  it("exits 2 with the usage on a bad command line", async () => {
    const runs = await Promise.all([
      ["frob"],
      ["get"],
      ["set", "only-key"],
      ["bench", "--requests", "many"],
      ["scan", "a", "b"],
      ["scan", "--limit", "0"],
      ["--tls-cert", "client.pem", "get", "a"],
      ["--tls-ca", "/nonexistent/ca.pem", "get", "a"]
    ].map(cli))
    for (const run of runs) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(/^kv: .*\nusage: kv /)
    }
    expect(runs[6]!.stderr).toMatch(/^kv: --tls-cert needs --tls-key/)
    expect(runs[7]!.stderr).toMatch(/^kv: --tls-ca: cannot read \/nonexistent\/ca\.pem/)
  }, 90_000)
})

describe.each(tested)("examples/kv on %s with --tls-cert/--tls-key, with the CLI", (runtime) => {
  describe("served over TLS", () => {
    let files: CertFiles
    let ex: ReturnType<typeof startExample>
    let port: string

    beforeAll(async () => {
      files = certFiles()
      ex = startExample(runtime, serverTlsArgs(files))
      port = String(await ex.port)
    }, 90_000)

    afterAll(async () => {
      ex?.child.kill("SIGINT")
      await ex?.exited
      files?.remove()
    })

    it(
      "the CLI with --tls --tls-ca sets, gets and scans; one that trusts another CA gets no answer (exit 4, UnknownCa); the log says TLS",
      async () => {
        const kv = (...args: Array<string>) => cli(["--port", port, "--tls", "--tls-ca", files.ca, ...args])
        expect(await kv("set", "secret", "over TLS 😀")).toEqual({ code: 0, stdout: "OK\n", stderr: "" })
        const [get, scan, otherCa] = await Promise.all([
          kv("get", "secret"),
          kv("scan", "sec"),
          cli(["--port", port, "--tls-ca", files.otherCa, "get", "secret"])
        ])
        expect(get).toEqual({ code: 0, stdout: "over TLS 😀\n", stderr: "" })
        expect(scan).toEqual({ code: 0, stdout: "secret\tover TLS 😀\n", stderr: "" })
        expect(otherCa.code).toBe(4)
        expect(otherCa.stdout).toBe("")
        expect(otherCa.stderr).toMatch(
          new RegExp(`^kv: cannot connect to 127\\.0\\.0\\.1:${port}: TLS client handshake failed: UnknownCa`)
        )
        expect(ex.output()).toMatch(/kv: listening on 127\.0\.0\.1:\d+ with TLS \(/)
      },
      60_000
    )
  })
})
