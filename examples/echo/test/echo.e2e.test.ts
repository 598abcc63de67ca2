import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { echoOnce, runExample, startExample as start } from "../../../scripts/example-process.ts"
import { resetClients, within } from "../../../scripts/reset-clients.ts"
import {
  certFiles,
  mutualTlsTitle,
  mutualTlsUnsupported,
  sClient,
  serverTlsArgs
} from "../../../scripts/tls-clients.ts"
import type { CertFiles } from "../../../scripts/tls-clients.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** Starts the example on `runtime`, port 0 (see scripts/example-process.ts). */
const startExample = (runtime: string, args: Array<string> = []) => start("echo", runtime, args)

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

  it(
    "50 clients that reset (at accept and mid-request) leave it serving: later clients are echoed byte-exact",
    async () => {
      const ex = startExample(runtime, [])
      const port = await ex.port
      expect(await resetClients(port, 25, "a partial request")).toBe(50)
      const payloads = [Buffer.from("after the resets\n"), Buffer.alloc(100_000, 9), Buffer.from([0, 255, 13, 10])]
      const got = await within(10_000, "echoes after the resets", Promise.all(payloads.map((p) => echoOnce(port, p))))
      got.forEach((g, i) => expect(g.equals(payloads[i]!)).toBe(true))
      ex.child.kill("SIGINT")
      expect(await ex.exited).toBe(0)
    },
    90_000
  )

  it(
    "--framing length echoes length-prefixed frames and closes only a connection that declares an oversized frame",
    async () => {
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
    },
    90_000
  )
})

/** Sends `payload` on a plain TCP connection and collects what comes back until the server closes (errors included). */
const plainExchange = (port: number, payload: Buffer) =>
  new Promise<Buffer>((resolve) => {
    const parts: Array<Buffer> = []
    const s = Net.connect({ host: "127.0.0.1", port }, () => s.write(payload))
    s.on("data", (d) => parts.push(d))
    s.on("error", () => {})
    s.on("close", () => resolve(Buffer.concat(parts)))
  })

describe.each(tested)("examples/echo on %s with --tls-cert/--tls-key", (runtime) => {
  let files: CertFiles
  beforeAll(() => {
    files = certFiles()
  })
  afterAll(() => files?.remove())

  describe("served to openssl s_client", () => {
    let tls: ReturnType<typeof startExample>

    beforeAll(async () => {
      tls = startExample(runtime, serverTlsArgs(files))
      await tls.port
    }, 90_000)

    afterAll(async () => {
      tls?.child.kill("SIGINT")
      await tls?.exited
    })

    it("a plain -quiet session echoes 64 KiB of random bytes byte-exact; the log says TLS", async () => {
      const data = randomBytes(64 * 1024)
      const session = sClient(await tls.port, files.ca)
      session.child.stdin.write(data)
      const got = await session.receive(data.length)
      session.child.kill()
      expect(got.length).toBe(data.length)
      expect(got.equals(data)).toBe(true)
      expect(tls.output()).toMatch(
        /echo: listening on 127\.0\.0\.1:\d+ \(framing: none\) with TLS; try: openssl s_client/
      )
    }, 30_000)

    it("the port speaks only TLS: a plain TCP client's bytes are not echoed", async () => {
      const payload = Buffer.from("hello in plain text, not a TLS record\n")
      const got = await within(15_000, "the server closing a plain client", plainExchange(await tls.port, payload))
      expect(got.includes(payload)).toBe(false)
      // the server is still there for TLS clients
      const session = sClient(await tls.port, files.ca)
      session.child.stdin.write("still up\n")
      expect((await session.receive(9)).toString()).toBe("still up\n")
      session.child.kill()
    }, 30_000)
  })

  describe.skipIf(mutualTlsUnsupported(runtime) !== undefined)(
    mutualTlsTitle(runtime, "with --tls-ca (mutual TLS)"),
    () => {
      let mutual: ReturnType<typeof startExample>

      beforeAll(async () => {
        mutual = startExample(runtime, serverTlsArgs(files, { mutual: true }))
        await mutual.port
      }, 90_000)

      afterAll(async () => {
        mutual?.child.kill("SIGINT")
        await mutual?.exited
      })

      it("s_client without a client certificate is refused and nothing is echoed; with one it is echoed", async () => {
        const port = await mutual.port
        const refused = sClient(port, files.ca)
        refused.child.stdin.write("ping\n")
        expect(await within(15_000, "s_client refused", refused.exited)).not.toBe(0)
        expect(refused.received().length).toBe(0)
        expect(refused.stderr()).toMatch(/certificate required/)

        const accepted = sClient(port, files.ca, ["-cert", files.clientCert, "-key", files.clientKey])
        accepted.child.stdin.write("ping\n")
        expect((await accepted.receive(5)).toString()).toBe("ping\n")
        accepted.child.kill()
        expect(mutual.output()).toMatch(/with TLS, client certificates required/)
      }, 30_000)
    }
  )

  // where the transport cannot ask for client certificates, --tls-ca must stop the server, never serve without them
  it.runIf(mutualTlsUnsupported(runtime) !== undefined)(
    `with --tls-ca the server refuses to start, saying why ${
      mutualTlsUnsupported(runtime) === undefined
        ? "[skipped: this transport asks for client certificates]"
        : `(${mutualTlsUnsupported(runtime)})`
    }`,
    async () => {
      const run = await runExample("echo", runtime, ["--port", "0", ...serverTlsArgs(files, { mutual: true })])
      expect(run.code).not.toBe(0)
      expect(run.stdout + run.stderr).not.toMatch(/listening on/)
      expect(run.stdout + run.stderr).toMatch(/ListenError: listen on 127\.0\.0\.1:0 failed: Tls \[ENOTSUP\]/)
    },
    60_000
  )

  it(
    "refuses an unreadable certificate, a file without a PEM certificate and --tls-key alone: exit 2 with the reason, before listening",
    async () => {
      const [missing, notACert, keyAlone] = await Promise.all([
        runExample("echo", runtime, ["--port", "0", "--tls-cert", "/nonexistent/cert.pem", "--tls-key", files.key]),
        runExample("echo", runtime, ["--port", "0", "--tls-cert", files.key, "--tls-key", files.key]),
        runExample("echo", runtime, ["--port", "0", "--tls-key", files.key])
      ])
      for (const run of [missing, notACert, keyAlone]) {
        expect(run.code).toBe(2)
        expect(run.stdout + run.stderr).not.toMatch(/listening on/)
        expect(run.stderr).toMatch(/usage: echo .*--tls-cert PATH\] \[--tls-key PATH\]/)
      }
      expect(missing.stderr).toMatch(/--tls-cert: cannot read \/nonexistent\/cert\.pem/)
      expect(notACert.stderr).toMatch(/--tls-cert: .* holds no CERTIFICATE PEM block/)
      expect(keyAlone.stderr).toMatch(/--tls-key needs --tls-cert/)
    },
    60_000
  )
})
