/**
 * Deno-specific behaviours (the shared contract is in conformance.test.ts).
 * Runs under Deno with -A and --unstable-net.
 */
import { describe, expect, it } from "@effect/vitest"
import { Connection, Transport } from "@wirekit/core"
import type { Address } from "@wirekit/core"
import { DenoTransport } from "@wirekit/deno"
import { Duration, Effect, Exit, Scope } from "effect"
import type { DenoNamespace } from "../src/deno-types.d.ts"
import { ipBytes } from "../src/internal/reset.ts"

const D = (globalThis as unknown as { readonly Deno: DenoNamespace }).Deno
const t = DenoTransport.transport
const enc = new TextEncoder()
const dec = new TextDecoder()
const any: Address.Address = { host: "127.0.0.1", port: 0 }

/** Reads until the connection fails, expecting a Reset within 5 s. */
const expectReset = (c: Connection.Connection) =>
  Effect.gen(function*() {
    const err = yield* Effect.flip(Effect.forever(c.read)).pipe(Effect.timeout(Duration.seconds(5)))
    expect(err._tag).toBe("ConnectionError")
    expect(err.reason).toBe("Reset")
  })

describe("deno transport specifics", () => {
  it("ipBytes parses IPv4, IPv6, compressed and v4-mapped literals", () => {
    expect(ipBytes("127.0.0.1")).toEqual(new Uint8Array([127, 0, 0, 1]))
    expect(ipBytes("::1")).toEqual(new Uint8Array([...new Array(15).fill(0), 1]))
    expect(ipBytes("::")).toEqual(new Uint8Array(16))
    expect(ipBytes("::ffff:127.0.0.1")).toEqual(
      new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1])
    )
    expect(ipBytes("fe80::1%eth0")).toEqual(new Uint8Array([0xfe, 0x80, ...new Array(13).fill(0), 1]))
    expect(ipBytes("2001:db8:0:0:1:0:0:1")).toEqual(
      new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    )
    expect(ipBytes("1:2:3:4:5:6:7:8:9")).toBeUndefined()
    expect(ipBytes("1::2::3")).toBeUndefined()
    expect(ipBytes("256.0.0.1")).toBeUndefined()
    expect(ipBytes("localhost")).toBeUndefined()
  })

  it("maps Deno errors to codes and reasons", () => {
    const named = (name: string) => Object.assign(new Error("x"), { name })
    expect(DenoTransport.errorCode(Object.assign(new Error("x"), { code: "ECONNRESET" }))).toBe("ECONNRESET")
    expect(DenoTransport.errorCode(named("BrokenPipe"))).toBe("EPIPE")
    expect(DenoTransport.errorCode(named("BadResource"))).toBe("EBADF")
    expect(DenoTransport.errorCode(named("NotCapable"))).toBe("ERR_NOT_CAPABLE")
    expect(DenoTransport.errorCode(new Error("failed to lookup address information: Name or service not known"))).toBe(
      "ENOTFOUND"
    )
    expect(Connection.reasonOf("EPIPE")).toBe("Reset")
    expect(Connection.reasonOf("EINTR")).toBe("Closed")
    expect(Transport.connectReasonOf("ENOTFOUND")).toBe("NotFound")
    expect(Transport.listenReasonOf("ERR_NOT_CAPABLE")).toBe("PermissionDenied")
  })

  it("abort sends a real RST on Linux with --allow-ffi", () => {
    expect(DenoTransport.canReset()).toBe(D.build.os === "linux")
  })

  it.scopedLive("reusePort without --unstable-net is a ListenError (Deno would terminate the process)", () =>
    Effect.gen(function*() {
      // this suite runs with the flag: take away what the transport detects it by, as Deno has it without
      const deno = D as { listenDatagram?: unknown }
      const original = deno.listenDatagram
      expect(typeof original).toBe("function")
      yield* Effect.acquireRelease(
        Effect.sync(() => delete deno.listenDatagram),
        () => Effect.sync(() => (deno.listenDatagram = original))
      )
      const err = yield* Effect.flip(t.listen(any, { reusePort: true }))
      expect(err._tag).toBe("ListenError")
      expect(err.reason).toBe("Other")
      expect(err.code).toBe("ENOTSUP")
    }))

  it.scopedLive("ipv6Only on the IPv6 wildcard is a ListenError; on a specific IPv6 address it is moot and accepted", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(t.listen({ host: "::", port: 0 }, { ipv6Only: true }))
      expect(err.code).toBe("ENOTSUP")
      const l = yield* t.listen({ host: "::1", port: 0 }, { ipv6Only: true })
      expect((l.address as Address.TcpAddress).host).toBe("::1")
    }))

  it.scopedLive("abort from the accepting side resets the client (IPv4 and IPv6)", () =>
    Effect.gen(function*() {
      for (const host of ["127.0.0.1", "::1"]) {
        const l = yield* t.listen({ host, port: 0 })
        const c = yield* t.connect(l.address, { timeout: 2000 })
        const s = yield* l.accept
        yield* s.abort
        yield* expectReset(c)
      }
    }))

  it.scopedLive("abort with writes still queued discards them and resets the peer", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any)
      const c = yield* t.connect(l.address, { timeout: 2000 })
      const s = yield* l.accept
      // fill the socket buffers: the peer does not read yet
      const big = new Uint8Array(8 * 1024 * 1024)
      yield* Effect.fork(c.write(big))
      yield* Effect.sleep(Duration.millis(50))
      expect(c.unsafeStats().writeBuffered).toBeGreaterThan(0)
      yield* c.abort
      yield* expectReset(s)
    }))

  it.scopedLive("abort on a Unix socket closes it: the peer sees EOF (no RST on Unix sockets)", () =>
    Effect.gen(function*() {
      const path = `/tmp/wirekit-deno-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.sock`
      const l = yield* t.listen({ path })
      const c = yield* t.connect({ path }, { timeout: 2000 })
      const s = yield* l.accept
      yield* c.abort
      expect(yield* s.read).toBe(Connection.EOF)
    }))

  it.scopedLive("closing the listener releases the port at once: listening again on it succeeds", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 5; i++) {
        const scope = yield* Scope.make()
        const l = yield* Scope.extend(t.listen(any), scope)
        yield* Scope.close(scope, Exit.void)
        const again = yield* t.listen(l.address)
        expect(again.address).toEqual(l.address)
        yield* again.close
      }
    }))

  it.scopedLive("allowHalfOpen: false ends our side as soon as the peer's FIN arrives", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any)
      const c = yield* t.connect(l.address, { timeout: 2000, allowHalfOpen: false })
      const s = yield* l.accept
      yield* s.write(enc.encode("last words"))
      yield* s.end
      expect(dec.decode(yield* Connection.readAll(c))).toBe("last words")
      // the client ended its side by itself: the server reads EOF
      expect(yield* s.read).toBe(Connection.EOF)
      yield* c.closed
      const err = yield* Effect.flip(c.write(enc.encode("late")))
      expect(err.reason).toBe("Closed")
    }))

  it.scopedLive("a connection is released once both sides have ended", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any)
      const c = yield* t.connect(l.address, { timeout: 2000 })
      const s = yield* l.accept
      yield* c.end
      expect(yield* s.read).toBe(Connection.EOF)
      yield* s.end
      expect(yield* c.read).toBe(Connection.EOF)
      yield* Effect.all([c.closed, s.closed]).pipe(Effect.timeout(Duration.seconds(2)))
    }))

  it.scopedLive("many small writes are coalesced and arrive complete and in order", () =>
    Effect.gen(function*() {
      const l = yield* t.listen(any)
      const c = yield* t.connect(l.address, { timeout: 2000 })
      const s = yield* l.accept
      const parts = Array.from({ length: 5000 }, (_, i) => `${i},`)
      for (const p of parts) yield* c.write(enc.encode(p))
      yield* c.end
      const got = dec.decode(yield* Connection.readAll(s))
      expect(got).toBe(parts.join(""))
      expect(s.unsafeStats().bytesRead).toBe(got.length)
    }))

  it.scopedLive("a Unix connect to a missing path fails fast with NotFound", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(t.connect({ path: "/tmp/wirekit-deno-missing.sock" }, { timeout: 2000 }))
      expect(err._tag).toBe("ConnectError")
      expect(err.reason).toBe("NotFound")
      expect(err.code).toBe("ENOENT")
    }))

  it.scopedLive("the layer provides the transport service named deno", () =>
    Effect.gen(function*() {
      const svc = yield* Transport.Transport
      expect(svc.name).toBe("deno")
    }).pipe(Effect.provide(DenoTransport.layer)))
})
