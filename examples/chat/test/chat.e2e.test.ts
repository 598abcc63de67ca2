/**
 * The chat example as `npm start -- --example chat --runtime X` runs it, on
 * every runtime, driven by raw `node:net` clients (what `nc` does); over TLS,
 * by `openssl s_client -quiet` sessions and the chat client (`src/cli.ts`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, spawnCli, startExample as start } from "../../../scripts/example-process.ts"
import { resetClients, within } from "../../../scripts/reset-clients.ts"
import { certFiles, sClient, serverTlsArgs } from "../../../scripts/tls-clients.ts"
import type { CertFiles } from "../../../scripts/tls-clients.ts"
import { LineClient } from "./lineClient.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** Starts the example on `runtime`, port 0 (see scripts/example-process.ts). */
const startExample = (runtime: string, args: Array<string> = []) => start("chat", runtime, args)

/** The lines `client` got from `nick` in the room (as `<nick> ...`). */
const saidBy = (lines: ReadonlyArray<string>, nick: string) => lines.filter((l) => l.startsWith(`<${nick}> `))

describe.each(tested)("examples/chat on %s (the process npm start runs)", (runtime) => {
  let ex: ReturnType<typeof startExample>
  let port: number
  const clients: Array<LineClient> = []
  const connect = async () => {
    const c = await LineClient.connect(port)
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    ex = startExample(runtime)
    port = await ex.port
  }, 90_000)

  afterAll(() => {
    for (const c of clients) c.close()
    if (ex.child.exitCode === null && ex.child.signalCode === null) ex.child.kill("SIGKILL")
  })

  it("three clients in a room: each sees the others' lines with their nicknames, never its own", async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()]
    expect(new Set([a.nick, b.nick, c.nick]).size).toBe(3)
    await a.rename("ann1")
    await b.rename("bob1")
    await c.rename("cat1")
    for (const x of [a, b, c]) {
      expect((await x.command("/join t1")).line).toMatch(/^\+ you are now in #t1 with [0-2] other\(s\)$/)
    }

    a.send("hello from ann\n")
    expect((await b.until(/^<ann1> /)).line).toBe("<ann1> hello from ann")
    expect((await c.until(/^<ann1> /)).line).toBe("<ann1> hello from ann")
    b.send("hi from bob\r\n") // CRLF works as well as LF
    expect((await a.until(/^<bob1> /)).line).toBe("<bob1> hi from bob")
    expect((await c.until(/^<bob1> /)).line).toBe("<bob1> hi from bob")
    // UTF-8, with a character split across two TCP writes
    const bytes = Buffer.from("héllo 😀 from cat\n")
    c.send(bytes.subarray(0, 8))
    await new Promise((r) => setTimeout(r, 50))
    c.send(bytes.subarray(8))
    expect((await a.until(/^<cat1> /)).line).toBe("<cat1> héllo 😀 from cat")
    expect((await b.until(/^<cat1> /)).line).toBe("<cat1> héllo 😀 from cat")

    // no echo: a line said and a command sent after it are handled in order, so an echo would
    // arrive before the command's answer
    for (const x of [a, b, c]) {
      x.send(`${x.nick} again\n`)
      const who = await x.command("/who")
      expect(who.line).toBe("+ #t1 (3): ann1, bob1, cat1")
      expect(saidBy(x.lines.slice(0, x.lines.indexOf(who.line) + 1), x.nick)).toEqual([])
    }
    expect(a.raw).toContain("\r\n") // the server writes CRLF
  }, 90_000)

  it(
    "/nick is validated and unique; /nick and /join move people: a line said in one room is not seen in another",
    async () => {
      const [x, y, z] = [await connect(), await connect(), await connect()]
      expect((await x.command("/nick bad name!")).line).toMatch(/^! usage: \/nick NAME/)
      expect((await x.command("/nick 9lives")).line).toMatch(/^! usage: \/nick NAME/)
      await x.rename("xena2")
      expect((await y.command("/nick XENA2")).line).toBe("! nick XENA2 is taken")
      await y.rename("yuri2")
      await z.rename("zoe2")
      expect((await x.command("/join #red2")).line).toBe("+ you are now in #red2 with 0 other(s)")
      expect((await y.command("/join red2")).line).toBe("+ you are now in #red2 with 1 other(s)")
      expect((await x.until(/^\* yuri2 /)).line).toBe("* yuri2 joined #red2")
      expect((await z.command("/join blue2")).line).toBe("+ you are now in #blue2 with 0 other(s)")
      expect((await z.command("/join blue2")).line).toBe("+ you are already in #blue2")

      // a rename is announced to the room
      await x.rename("xavier2")
      expect((await y.until(/is now/)).line).toBe("* xena2 is now xavier2")

      x.send("secret of red\n")
      expect((await y.until(/^<xavier2> /)).line).toBe("<xavier2> secret of red")
      // y got it, so the broadcast is done; z's /who answer comes after anything pushed to z
      const zWho = await z.command("/who")
      expect(zWho.line).toBe("+ #blue2 (1): zoe2")
      expect(z.lines.filter((l) => l.includes("secret"))).toEqual([])

      // y moves to blue: red is told it left, blue that it came
      expect((await y.command("/join blue2")).line).toBe("+ you are now in #blue2 with 1 other(s)")
      expect((await x.until(/^\* yuri2 /)).line).toBe("* yuri2 left #red2 (joined #blue2)")
      expect((await z.until(/^\* yuri2 /)).line).toBe("* yuri2 joined #blue2")
      z.send("welcome to blue\n")
      expect((await y.until(/^<zoe2> /)).line).toBe("<zoe2> welcome to blue")
      await x.command("/who")
      expect(saidBy(x.lines, "zoe2")).toEqual([])
      x.send("anyone in red?\n")
      expect((await x.command("/who")).line).toBe("+ #red2 (1): xavier2")
      await y.command("/who")
      await z.command("/who")
      expect(saidBy(y.lines, "xavier2")).toEqual(["<xavier2> secret of red"])
      expect(saidBy(z.lines, "xavier2")).toEqual([])

      // private messages reach one person, whatever the room
      expect((await x.command("/msg ZOE2 psst")).line).toBe("+ sent to zoe2")
      expect((await z.until(/^\*xavier2\* /)).line).toBe("*xavier2* psst")
      expect((await x.command("/msg nobody2 hi")).line).toBe("! no such nick: nobody2")
    },
    90_000
  )

  it("/quit says bye and closes only that client; its room is told; the others keep chatting", async () => {
    const [p, q, r] = [await connect(), await connect(), await connect()]
    await p.rename("pat3")
    await q.rename("quinn3")
    await r.rename("rex3")
    for (const x of [p, q, r]) await x.command("/join q3")
    // the line after /quit in the same write is never read
    p.send("/quit see you\nthis is never read\n")
    expect((await p.until(/^[+!] /)).line).toBe("+ bye")
    await p.awaitClose()
    expect((await q.until(/^\* pat3 /)).line).toBe("* pat3 left #q3 (quit: see you)")
    expect((await r.until(/^\* pat3 /)).line).toBe("* pat3 left #q3 (quit: see you)")
    q.send("still here\n")
    expect((await r.until(/^<quinn3> /)).line).toBe("<quinn3> still here")
    expect((await q.command("/who")).line).toBe("+ #q3 (2): quinn3, rex3")
    expect(q.closed || r.closed).toBe(false)
    expect(saidBy(q.lines, "pat3")).toEqual([])
    // the nickname is free again
    await r.rename("pat3")
    // a client that just goes away is announced too; its unterminated last line is still read
    q.end("last words, no newline")
    expect((await r.until(/^<quinn3> /)).line).toBe("<quinn3> last words, no newline")
    expect((await r.until(/^\* quinn3 /)).line).toBe("* quinn3 left #q3 (disconnected)")
    await q.awaitClose()
  }, 90_000)

  it("a too-long line (or invalid UTF-8) gets a polite error and the connection keeps working", async () => {
    const [m, n] = [await connect(), await connect()]
    await m.rename("mia4")
    await n.rename("ned4")
    await m.command("/join long4")
    await n.command("/join long4")
    expect((await m.command("a".repeat(513))).line).toBe("! line too long (513 bytes, max 512); not sent")
    // far over the framing limit too: discarded as it arrives, still answered
    const huge = "z".repeat(200_000)
    m.send(huge.slice(0, 70_000))
    m.send(huge.slice(70_000))
    m.send("\r\n")
    expect((await m.until(/^[+!] /)).line).toBe("! line too long (200000 bytes, max 512); not sent")
    m.send(Buffer.from([0x68, 0xff, 0xfe, 0x0a]))
    expect((await m.until(/^[+!] /)).line).toBe("! BadRequest: the line is not valid UTF-8; not sent")
    const longest = "é".repeat(256) // 512 bytes: exactly the limit
    m.send(`${longest}\nstill chatting\n`)
    expect((await n.until(/^<mia4> /)).line).toBe(`<mia4> ${longest}`)
    expect((await n.until(/^<mia4> /)).line).toBe("<mia4> still chatting")
    expect(n.lines.some((l) => l.includes("aaaa") || l.includes("zzzz"))).toBe(false)
    expect((await m.command("/who")).line).toBe("+ #long4 (2): mia4, ned4")
    expect(m.closed).toBe(false)
  }, 90_000)

  it("50 clients that reset (at accept and mid-line) leave it serving: later clients chat as usual", async () => {
    expect(await resetClients(port, 25, "a line without its end")).toBe(50)
    await within(
      10_000,
      "chatting after the resets",
      (async () => {
        const [a, b] = [await connect(), await connect()]
        for (const x of [a, b]) {
          expect((await x.command("/join resets")).line).toMatch(/^\+ you are now in #resets with [01] other\(s\)$/)
        }
        a.send("still here after the resets\n")
        expect((await b.until(`<${a.nick}> still here after the resets`)).line).toBe(
          `<${a.nick}> still here after the resets`
        )
      })()
    )
  }, 60_000)

  it("exits 0 on SIGINT, after telling every client and closing them", async () => {
    const s = await connect()
    ex.child.kill("SIGINT")
    expect((await s.until(/shutting down/)).line).toBe("* server is shutting down")
    await s.awaitClose()
    expect(await ex.exited).toBe(0)
    expect(ex.output()).toMatch(/shut down/)
  }, 90_000)
})

describe.each(tested)("examples/chat on %s with --tls-cert/--tls-key", (runtime) => {
  describe("served to openssl s_client and the chat client", () => {
    let files: CertFiles
    let ex: ReturnType<typeof startExample>
    let port: number
    const clients: Array<LineClient> = []
    /** An `openssl s_client -quiet` session, trusting the test CA, with the welcome line read. */
    const sClientUser = async () => {
      const c = await LineClient.over(sClient(port, files.ca).child)
      clients.push(c)
      return c
    }

    beforeAll(async () => {
      files = certFiles()
      ex = startExample(runtime, serverTlsArgs(files))
      port = await ex.port
    }, 90_000)

    afterAll(async () => {
      for (const c of clients) c.close()
      ex?.child.kill("SIGINT")
      await ex?.exited
      files?.remove()
    })

    it(
      "two openssl s_client -quiet sessions chat: each sees the other's line; /quit says bye and closes; the log says TLS",
      async () => {
        const [a, b] = [await sClientUser(), await sClientUser()]
        await a.rename("tina")
        await b.rename("tom")
        for (const x of [a, b]) {
          expect((await x.command("/join tls1")).line).toMatch(/^\+ you are now in #tls1 with [01] other\(s\)$/)
        }
        a.send("hello over TLS, héllo 😀\n")
        expect((await b.until(/^<tina> /)).line).toBe("<tina> hello over TLS, héllo 😀")
        b.send("hi tina\r\n")
        expect((await a.until(/^<tom> /)).line).toBe("<tom> hi tina")
        b.send("/quit done\n")
        expect((await b.until(/^[+!] /)).line).toBe("+ bye")
        await b.awaitClose()
        expect((await a.until(/^\* tom /)).line).toBe("* tom left #tls1 (quit: done)")
        expect(saidBy(a.lines, "tina")).toEqual([])
        expect(ex.output()).toMatch(/chat: listening on 127\.0\.0\.1:\d+ with TLS;/)
      },
      30_000
    )

    it(
      "the chat client with --tls --tls-ca chats with an s_client user and exits 0 at the end of its input; with only the system CAs it refuses the server (exit 4)",
      async () => {
        const a = await sClientUser()
        await a.rename("ursula")
        await a.command("/join tls2")
        const child = spawnCli("chat", ["--port", String(port), "--tls", "--tls-ca", files.ca])
        const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
        const c = await LineClient.over(child)
        clients.push(c)
        await c.rename("victor")
        await c.command("/join tls2")
        c.send("hi from the chat client\n")
        expect((await a.until(/^<victor> /)).line).toBe("<victor> hi from the chat client")
        a.send("hi back\n")
        expect((await c.until(/^<ursula> /)).line).toBe("<ursula> hi back")
        c.end()
        expect(await within(15_000, "the chat client exiting", exited)).toBe(0)
        expect((await a.until(/^\* victor /)).line).toBe("* victor left #tls2 (disconnected)")

        const untrusted = await runCli("chat", ["--port", String(port), "--tls"])
        expect(untrusted.code).toBe(4)
        expect(untrusted.stdout).toBe("")
        expect(untrusted.stderr).toMatch(
          new RegExp(`^chat: cannot connect to 127\\.0\\.0\\.1:${port}: TLS client handshake failed: UnknownCa`)
        )
      },
      60_000
    )
  })
})
