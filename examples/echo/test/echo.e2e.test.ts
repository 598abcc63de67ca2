import { describe, expect, it } from "vitest"
import * as Net from "node:net"
import { startExample as start } from "../../../scripts/example-process.ts"
import { resetClients, within } from "../../../scripts/reset-clients.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** Starts the example on `runtime`, port 0 (see scripts/example-process.ts). */
const startExample = (runtime: string, args: Array<string> = []) => start("echo", runtime, args)

const echoOnce = (port: number, payload: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const parts: Array<Buffer> = []
    const s = Net.connect({ host: "127.0.0.1", port }, () => s.end(payload))
    s.on("data", (d) => parts.push(d))
    s.on("end", () => resolve(Buffer.concat(parts)))
    s.on("error", reject)
  })

describe.each(tested)("examples/echo on %s (the process npm start runs)", (runtime) => {
  it("echoes bytes, logs each connection, and exits cleanly on SIGINT", async () => {
    const ex = startExample(runtime, [])
    const port = await ex.port
    const payload = Buffer.from("hello wirekit\n\u00e9\u{1F600} binary \u0000\u00ff")
    const [a, b] = await Promise.all([echoOnce(port, payload), echoOnce(port, Buffer.alloc(300_000, 7))])
    expect(a.equals(payload)).toBe(true)
    expect(b.length).toBe(300_000)
    expect(b.every((x) => x === 7)).toBe(true)
    ex.child.kill("SIGINT")
    const code = await ex.exited
    expect(code).toBe(0)
    expect(ex.output()).toMatch(/open/)
    expect(ex.output()).toMatch(/close \(\d+ bytes echoed\)/)
  }, 90_000)

  it("50 clients that reset (at accept and mid-request) leave it serving: later clients are echoed byte-exact", async () => {
    const ex = startExample(runtime, [])
    const port = await ex.port
    expect(await resetClients(port, 25, "a partial request")).toBe(50)
    const payloads = [Buffer.from("after the resets\n"), Buffer.alloc(100_000, 9), Buffer.from([0, 255, 13, 10])]
    const got = await within(10_000, "echoes after the resets", Promise.all(payloads.map((p) => echoOnce(port, p))))
    got.forEach((g, i) => expect(g.equals(payloads[i]!)).toBe(true))
    ex.child.kill("SIGINT")
    expect(await ex.exited).toBe(0)
  }, 90_000)

  it("--framing length echoes length-prefixed frames and closes only a connection that declares an oversized frame", async () => {
    const ex = startExample(runtime, ["--framing", "length"])
    const port = await ex.port
    const frame = (payload: Buffer) => {
      const h = Buffer.alloc(4)
      h.writeUInt32BE(payload.length)
      return Buffer.concat([h, payload])
    }
    const stream = Buffer.concat([frame(Buffer.from("one")), frame(Buffer.alloc(0)), frame(Buffer.alloc(70_000, 1))])
    // the bad client declares 8 MiB + 1 (over the default max) and must be closed without a reply
    const bad = await echoOnce(port, Buffer.from([0x00, 0x80, 0x00, 0x01]))
    expect(bad.length).toBe(0)
    const good = await echoOnce(port, stream)
    expect(good.equals(stream)).toBe(true)
    ex.child.kill("SIGINT")
    expect(await ex.exited).toBe(0)
    expect(ex.output()).toMatch(/FrameTooLarge|frame too large/)
  }, 90_000)
})
