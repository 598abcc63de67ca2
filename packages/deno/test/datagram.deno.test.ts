/**
 * Deno-specific datagram behaviours (the shared contract is in datagram.conformance.test.ts): the typed errors
 * without --unstable-net or --allow-net, the options Deno cannot honour, send order and bounds, oversize datagrams,
 * multicast without a named interface.
 * Runs under Deno with -A and --unstable-net.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Datagram } from "@wirekit/core"
import { DenoDatagram } from "@wirekit/deno"
import { Duration, Effect } from "effect"
import { fileURLToPath } from "node:url"

const t = DenoDatagram.transport
const enc = new TextEncoder()
const dec = new TextDecoder()
const any = { host: "127.0.0.1", port: 0 }
/** The slice of the Deno global these tests use. */
interface DenoGlobal {
  execPath(): string
  listenDatagram?: unknown
  readonly Command: new(command: string, options: {
    readonly args: ReadonlyArray<string>
    readonly stdout: "piped"
    readonly stderr: "piped"
    readonly signal: AbortSignal
  }) => { output(): Promise<{ readonly code: number; readonly stdout: Uint8Array; readonly stderr: Uint8Array }> }
}
const D = (globalThis as unknown as { readonly Deno: DenoGlobal }).Deno

const takeWithin = (socket: Datagram.DatagramSocket, ms = 2000) =>
  Effect.timeoutFail(socket.take, {
    duration: Duration.millis(ms),
    onTimeout: () => new Error(`no datagram within ${ms} ms`)
  })

/**
 * Runs `deno <args>` to completion: exit code, stdout and stderr. Through `Deno.Command`: Deno's
 * node:child_process hands its own permissions to a deno child it spawns.
 */
const deno = (args: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: (signal) => new D.Command(D.execPath(), { args, stdout: "piped", stderr: "piped", signal }).output(),
    catch: (cause) => new Error(`deno ${args.join(" ")} did not run`, { cause })
  }).pipe(
    Effect.map((out) => ({ code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) })),
    Effect.timeout(Duration.seconds(20))
  )

describe("DenoDatagram", () => {
  /** The line the child prints: whether `Deno.listenDatagram` exists, and the bind's error. */
  const child = (flags: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const fixture = fileURLToPath(new URL("./datagram-child.ts", import.meta.url))
      const { code, stderr, stdout } = yield* deno(["run", ...flags, "--conditions=@wirekit/source", fixture])
      expect(code, stderr).toBe(0)
      return JSON.parse(stdout.trim().split("\n").pop()!)
    })

  it.live("without --unstable-net, bind fails with Unsupported and says to add the flag", () =>
    Effect.gen(function*() {
      const line = yield* child(["--allow-net"])
      expect(line).toMatchObject({
        listenDatagram: "undefined",
        tag: "DatagramError",
        reason: "Unsupported",
        operation: "bind",
        code: "ENOTSUP"
      })
      expect(line.detail).toContain("--unstable-net")
      expect(line.message).toContain("--unstable-net")
    }), 30_000)

  it.live("without --allow-net, bind fails with PermissionDenied", () =>
    Effect.gen(function*() {
      const line = yield* child(["--unstable-net"])
      expect(line).toMatchObject({
        listenDatagram: "function",
        reason: "PermissionDenied",
        operation: "bind",
        code: "ERR_NOT_CAPABLE"
      })
    }), 30_000)

  it.scopedLive("the same check in this process: without Deno.listenDatagram the bind is Unsupported", () =>
    Effect.gen(function*() {
      const original = D.listenDatagram
      expect(typeof original).toBe("function") // this suite runs with the flag
      yield* Effect.acquireRelease(
        Effect.sync(() => delete D.listenDatagram),
        () => Effect.sync(() => (D.listenDatagram = original))
      )
      const error = yield* Effect.flip(t.bind(any))
      expect(error).toMatchObject({ reason: "Unsupported", operation: "bind" })
      expect(error.detail).toContain("--unstable-net")
    }))

  it.scopedLive("options Deno cannot honour fail the bind with Unsupported instead of being ignored", () =>
    Effect.gen(function*() {
      const v6only = yield* Effect.flip(t.bind({ host: "::", port: 0, ipv6Only: true }))
      expect(v6only).toMatchObject({ reason: "Unsupported", code: "ENOTSUP" })
      expect(v6only.detail).toContain("IPV6_V6ONLY")
      const iface = yield* Effect.flip(t.bind({ ...any, multicast: { interface: "127.0.0.1" } }))
      expect(iface.reason).toBe("Unsupported")
      expect(iface.detail).toContain("IP_MULTICAST_IF")
      const ttl = yield* Effect.flip(t.bind({ ...any, multicast: { ttl: 5 } }))
      expect(ttl.reason).toBe("Unsupported")
      // moot or the default: accepted
      const specific = yield* t.bind({ host: "::1", port: 0, ipv6Only: true })
      expect(specific.address.host).toBe("::1")
      yield* t.bind({ ...any, multicast: { ttl: 1, loopback: false }, broadcast: true })
    }))

  it.scopedLive("back-to-back sends arrive in the order they were made (Deno runs concurrent sends last first)", () =>
    Effect.gen(function*() {
      const server = yield* t.bind(any)
      const client = yield* t.bind(any)
      // 200 small datagrams: well under what the receiver's socket buffer holds, so none is lost on loopback
      const n = 100
      for (let i = 0; i < n; i++) yield* client.send(enc.encode(`${i}`), server.address)
      for (let i = n; i < 2 * n; i++) expect(client.unsafeSend(enc.encode(`${i}`), server.address)).toBe(true)
      const got: Array<number> = []
      while (got.length < 2 * n) {
        for (const d of yield* Effect.timeout(server.takeBatch, Duration.seconds(2))) {
          got.push(Number(dec.decode(d.data)))
        }
      }
      expect(got).toEqual(Array.from({ length: 2 * n }, (_, i) => i))
      expect((yield* client.stats).sent).toBe(2 * n)
    }))

  it.scopedLive("past sendQueue datagrams waiting for Deno, unsafeSend says stop and send waits; all arrive", () =>
    Effect.gen(function*() {
      const server = yield* t.bind(any)
      const client = yield* t.bind({ ...any, sendQueue: 8 })
      // the first goes to Deno at once, the next ones wait behind it: the 8th makes 8 in Deno's hands
      const taken = Array.from({ length: 8 }, (_, i) => client.unsafeSend(enc.encode(`${i}`), server.address))
      expect(taken).toEqual([true, true, true, true, true, true, true, false])
      yield* client.awaitWritable
      for (let i = 8; i < 64; i++) yield* client.send(enc.encode(`${i}`), server.address)
      const got: Array<string> = []
      while (got.length < 64) {
        for (const d of yield* Effect.timeout(server.takeBatch, Duration.seconds(2))) got.push(dec.decode(d.data))
      }
      expect(got).toEqual(Array.from({ length: 64 }, (_, i) => `${i}`))
      expect(yield* client.stats).toMatchObject({ sent: 64, sendDropped: 0 })
    }))

  it.scopedLive("a burst reaches a pump several datagrams per call, in order", () =>
    Effect.gen(function*() {
      const server = yield* t.bind(any)
      const batches: Array<number> = []
      const got: Array<number> = []
      yield* Effect.forkScoped(server.pump((batch) => {
        // the first call holds the event loop a moment: the rest of the burst waits in the kernel meanwhile
        if (batches.length === 0) { for (const end = Date.now() + 50; Date.now() < end;); }
        batches.push(batch.length)
        for (const d of batch) got.push(Number(dec.decode(d.data)))
      }))
      // another process sends the burst, one datagram after another
      const sender = `const s = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 })
        for (let i = 0; i < 60; i++) {
          await s.send(new TextEncoder().encode(String(i)), { transport: "udp", hostname: "127.0.0.1", port: ${server.address.port} })
        }`
      const { code, stderr } = yield* deno(["eval", "--unstable-net", sender])
      expect(code, stderr).toBe(0)
      yield* Effect.timeout(
        Effect.repeat(Effect.sleep(Duration.millis(5)), { until: () => got.length === 60 }),
        Duration.seconds(2)
      )
      expect(got).toEqual(Array.from({ length: 60 }, (_, i) => i))
      // four receives pending: up to four datagrams a turn, handed on in one call
      expect(Math.max(...batches)).toBeGreaterThan(1)
      expect(batches.length).toBeLessThan(40)
    }), 30_000)

  it.scopedLive("a datagram far past maxDatagramSize is dropped whole; Deno read maxDatagramSize + 1 bytes of it", () =>
    Effect.gen(function*() {
      const small = yield* t.bind({ ...any, maxDatagramSize: 100 })
      const sender = yield* t.bind(any)
      yield* sender.send(new Uint8Array(5000), small.address)
      yield* sender.send(enc.encode("fits"), small.address)
      expect(dec.decode((yield* takeWithin(small)).data)).toBe("fits")
      expect(yield* small.stats).toMatchObject({ received: 2, dropped: 1, droppedBytes: 101, queued: 0 })
    }))

  it.scopedLive("multicast: join on the loopback interface, receive, leave; a bad group is a typed error", () =>
    Effect.gen(function*() {
      const group = "239.255.42.97"
      const member = yield* t.bind({ host: "0.0.0.0", port: 0, reuseAddr: true, multicast: { loopback: true } })
      yield* member.joinMulticast(group, "127.0.0.1")
      // bound to 127.0.0.1, the sender's multicast leaves by the loopback interface without IP_MULTICAST_IF
      const sender = yield* t.bind(any)
      yield* sender.send(enc.encode("to the group"), { host: group, port: member.address.port })
      expect(dec.decode((yield* takeWithin(member)).data)).toBe("to the group")
      yield* member.leaveMulticast(group, "127.0.0.1")
      yield* sender.send(enc.encode("after leaving"), { host: group, port: member.address.port })
      yield* Effect.sleep(Duration.millis(50))
      expect((yield* member.stats).received).toBe(1)
      const notMember = yield* Effect.flip(member.leaveMulticast(group, "127.0.0.1"))
      expect(notMember).toMatchObject({ reason: "AddressNotAvailable", operation: "multicast" })
      const bad = yield* Effect.flip(member.joinMulticast("10.1.2.3", "127.0.0.1"))
      expect(bad).toMatchObject({ operation: "multicast", code: "EINVAL" })
    }))

  it.scopedLive("a send Deno rejects fails the next send with its typed reason", () =>
    Effect.gen(function*() {
      const v4 = yield* t.bind(any)
      // an IPv6 destination from an IPv4 socket: Deno rejects the send (EAFNOSUPPORT) after taking it
      yield* v4.send(enc.encode("x"), { host: "::1", port: 9 })
      const error = yield* Effect.retry(
        Effect.flip(Effect.zipRight(Effect.sleep(Duration.millis(10)), v4.send(enc.encode("y"), any))),
        { times: 50 }
      )
      expect(error).toMatchObject({ reason: "Unsupported", code: "EAFNOSUPPORT", operation: "send" })
      expect((yield* v4.stats).errors).toBe(1)
    }))
})
