/**
 * Chat servers in separate processes (standing for separate machines)
 * sharing rooms through a real redis-server (`--backplane redis://...`),
 * started by this file on a free port and stopped at its end: messages,
 * joins and leaves, `/who`, `/msg` and nicknames across servers; one
 * sender's order; a third server on Bun, killed, its clients leaving `/who`
 * within the TTL;
 * redis-server stopped and started again (empty) while clients talk.
 * Skipped, with the reason, where redis-server is missing (never on CI).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, runExample, startExample } from "../../../scripts/example-process.ts"
import type { ExampleProcess } from "../../../scripts/example-process.ts"
import { redisServerProgram, startRedisServer } from "../../../scripts/redis-server.ts"
import type { RedisServer } from "../../../scripts/redis-server.ts"
import { LineClient } from "./lineClient.ts"

/** A server is dead for the others this long after its last beat (it beats every second). */
const TTL = 3000

/** Resolves once `check` holds (polled every 20 ms); fails after `ms`. */
const waitFor = async (what: string, check: () => boolean, ms = 10_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still not true after ${ms}ms: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe.skipIf(redisServerProgram.skip)(
  redisServerProgram.title("examples/chat: servers sharing rooms through Redis"),
  () => {
    let redis: RedisServer
    const servers: Array<ExampleProcess> = []
    const clients: Array<LineClient> = []
    let a: ExampleProcess
    let b: ExampleProcess

    const server = async (runtime = "node"): Promise<ExampleProcess> => {
      const p = startExample("chat", runtime, ["--backplane", redis.url, "--backplane-ttl", String(TTL)])
      servers.push(p)
      await p.port
      return p
    }
    const connect = async (p: ExampleProcess, nick: string): Promise<LineClient> => {
      const c = await LineClient.connect(await p.port)
      clients.push(c)
      await c.rename(nick)
      return c
    }

    beforeAll(async () => {
      redis = await startRedisServer()
      ;[a, b] = await Promise.all([server(), server()])
    }, 60_000)

    afterAll(async () => {
      for (const c of clients) c.close()
      await Promise.all(servers.map((p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve()
        p.child.kill("SIGTERM")
        return Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000))]).then(() =>
          void p.child.kill("SIGKILL")
        )
      }))
      await redis?.close()
    }, 30_000)

    let alice: LineClient
    let bob: LineClient
    let carol: LineClient

    it("one room on two servers: joins, renames, messages, /who, /msg, nicknames taken anywhere, leaves", async () => {
      alice = await connect(a, "alice")
      const bobGuest = await LineClient.connect(await b.port)
      clients.push(bobGuest)
      bob = bobGuest
      // bob's arrival on the other server is announced to alice
      await alice.until(`* ${bob.nick} joined #lobby`)
      await bob.rename("bob")
      await alice.until(/^\* guest-\d+ is now bob$/)
      carol = await connect(a, "carol")
      await bob.until(/^\* guest-\d+ is now carol$/)

      // a nickname is taken on every server, in any case
      const dave = await LineClient.connect(await a.port)
      clients.push(dave)
      expect((await dave.command("/nick bob")).line).toBe("! nick bob is taken")
      expect((await dave.command("/nick BOB")).line).toBe("! nick BOB is taken")
      dave.close()

      alice.sendLine("hello from the first server")
      expect((await bob.until(/^<alice> /)).line).toBe("<alice> hello from the first server")
      expect((await carol.until(/^<alice> /)).line).toBe("<alice> hello from the first server")
      bob.sendLine("hello from the second")
      expect((await alice.until(/^<bob> /)).line).toBe("<bob> hello from the second")

      expect(await bob.eventually("/who", (w) => w.includes("(3)"))).toBe("+ #lobby (3): alice, bob, carol")
      expect(await alice.eventually("/who", (w) => w.includes("(3)"))).toBe("+ #lobby (3): alice, bob, carol")

      // private messages to someone on the other server, both ways
      expect((await alice.command("/msg BOB psst")).line).toBe("+ sent to bob")
      expect((await bob.until(/^\*alice\* /)).line).toBe("*alice* psst")
      expect((await bob.command("/msg carol hi carol")).line).toBe("+ sent to carol")
      expect((await carol.until(/^\*bob\* /)).line).toBe("*bob* hi carol")
      expect((await bob.command("/msg nobody hi")).line).toBe("! no such nick: nobody")

      // leaving the room, seen from the other server
      expect((await bob.command("/join rust")).line).toBe("+ you are now in #rust with 0 other(s)")
      await alice.until("* bob left #lobby (joined #rust)")
      expect(await alice.eventually("/who", (w) => w.includes("(2)"))).toBe("+ #lobby (2): alice, carol")
      expect((await carol.command("/join #rust")).line).toBe("+ you are now in #rust with 1 other(s)")
      await bob.until("* carol joined #rust")
      expect((await bob.command("/join lobby")).line).toBe("+ you are now in #lobby with 1 other(s)")
      await alice.until("* bob joined #lobby")
      expect((await carol.command("/join lobby")).line).toBe("+ you are now in #lobby with 2 other(s)")
      await bob.until("* carol joined #lobby")
    })

    it("one sender's 1,000 messages arrive on the other server in the order they were sent", async () => {
      const lines = Array.from({ length: 1000 }, (_, n) => `m${n}`)
      alice.sendLine(lines.join("\n"))
      const got: Array<string> = []
      while (got.length < lines.length) {
        got.push(
          (await bob.until(/^<alice> m\d+$/, 20_000)).line.slice("<alice> ".length)
        )
      }
      expect(got).toEqual(lines)
    })

    it("a third server, on Bun, joins the room; killed, its clients leave /who everywhere once its TTL passes", async () => {
      const c = await server("bun")
      const erin = await connect(c, "erin")
      await alice.until(/^\* guest-\d+ is now erin$/)
      alice.sendLine("hi erin")
      await erin.until("<alice> hi erin")
      erin.sendLine("hi from bun")
      await bob.until("<erin> hi from bun")
      expect(await alice.eventually("/who", (w) => w.includes("erin"))).toBe("+ #lobby (4): alice, bob, carol, erin")
      c.child.kill("SIGKILL")
      await c.exited
      const killed = Date.now()
      // a dead server cannot announce its clients' leaving: /who stops listing them after the TTL
      expect(await alice.eventually("/who", (w) => !w.includes("erin"), 10_000)).toBe("+ #lobby (3): alice, bob, carol")
      expect(Date.now() - killed).toBeLessThan(TTL + 3000)
      // and the name is free again
      const again = await connect(b, "erin")
      again.close()
    })

    it("redis-server stopped and started again: each server keeps its own room going, then they share it again", async () => {
      await redis.stop()
      await waitFor("the first server logs the outage", () => /backplane redis unavailable/.test(a.output()))
      // local chat goes on
      alice.sendLine("said during the outage")
      await carol.until("<alice> said during the outage")
      expect((await alice.command("/who")).line).toBe(
        "+ #lobby (2): alice, carol (this server only: the others cannot be reached now)"
      )
      expect((await alice.command("/nick alicia")).line).toBe(
        "! cannot check nick alicia with the other servers right now; try again later"
      )

      await redis.start()
      await waitFor("the first server logs the recovery", () => /backplane redis back after/.test(a.output()), 15_000)
      // every membership was announced again (the new redis-server started empty)
      expect(await bob.eventually("/who", (w) => w.includes("alice"), 15_000)).toBe("+ #lobby (3): alice, bob, carol")
      // and messages cross again, both ways (each server's subscriptions were restored on its own)
      for (let n = 1; !bob.lines.some((l) => l.startsWith("<alice> back ")); n++) {
        if (n > 75) {
          throw new Error(
            `no message of alice reached bob after the outage; bob got ${JSON.stringify(bob.lines.slice(-5))}`
          )
        }
        alice.sendLine(`back ${n}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      bob.sendLine("welcome back")
      await alice.until("<bob> welcome back")
    })
  }
)

describe("examples/chat --backplane refusals", () => {
  it("a URL that is not redis:// exits 2 with the usage; a Redis nobody listens on stops the server before it listens", async () => {
    const bad = await runExample("chat", "node", ["--port", "0", "--backplane", "http://127.0.0.1:6379"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--backplane must be a redis:// or rediss:// URL")
    const nobody = await runExample("chat", "node", [
      "--port",
      "0",
      "--backplane",
      `redis://127.0.0.1:${await freePort()}`
    ])
    expect(nobody.code).not.toBe(0)
    const output = nobody.stdout + nobody.stderr
    expect(output).toContain("BackplaneError")
    expect(output).not.toContain("listening on")
  })
})
