/**
 * The PROXY protocol suite: a listener with `proxyProtocol` behind a test
 * client that sends real headers (versions 1 and 2) over the transport under
 * test, checked through what a `Server` handler, a `ProtocolServer` handler
 * and a bare `accept` see. Registered against a transport Layer like the
 * other conformance suites; the behaviour lives in the core, so every
 * transport must pass it unchanged.
 *
 * @example
 * ```ts
 * import { ProxyProtocolConformance } from "@wirekit/testing"
 * import { NodeTransport } from "@wirekit/node"
 * ProxyProtocolConformance.run({ name: "node", layer: NodeTransport.layer })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Address as Address$ } from "@wirekit/core"
import { Connection } from "@wirekit/core"
import { Framed } from "@wirekit/core"
import { LengthField } from "@wirekit/core"
import { Middleware } from "@wirekit/core"
import { Protocol } from "@wirekit/core"
import { ProtocolServer } from "@wirekit/core"
import { ProxyProtocol } from "@wirekit/core"
import { Server } from "@wirekit/core"
import { Transport } from "@wirekit/core"
import { Effect, Schedule, Schema, TestClock, TestServices } from "effect"
import type { Layer, Scope } from "effect"
import { expect } from "vitest"
const format = Address$.format
const tcp = Address$.tcp
type Address = Address$.Address

/**
 * What an adapter passes to {@link run}.
 * @since 0.1.0
 * @category options
 */
export interface ProxyProtocolConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The transport under test, provided anew to each test. */
  readonly layer: Layer.Layer<Transport.Transport>
}

const utf8 = new TextEncoder()
const text = new TextDecoder()

/** The client a header names (nothing listens there: it only has to come back out). */
const CLIENT = tcp("203.0.113.7", 51234)
const FRONT = tcp("198.51.100.1", 443)
const CLIENT6 = tcp("2001:db8::7", 40001)
const FRONT6 = tcp("2001:db8::1", 7000)

const v1 = ProxyProtocol.encode({ source: CLIENT, destination: FRONT }, 1)
const v2 = ProxyProtocol.encode({
  source: CLIENT6,
  destination: FRONT6,
  tlvs: [{ type: 0x02, value: utf8.encode("example.com") }]
}, 2)

const concat = (...parts: ReadonlyArray<Uint8Array>) => Connection.concat(parts)

/**
 * A Server handler that answers its connection's first line with what it
 * sees: `remote local proxyPeerPort|line`, then echoes lines until the end.
 */
const reporter = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  let buffered = ""
  let first = true
  while (true) {
    const chunk = yield* conn.read
    if (chunk === Connection.EOF) return
    buffered += text.decode(chunk)
    let nl: number
    while ((nl = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      const report = first
        ? `${format(conn.remoteAddress)} ${format(conn.localAddress)} ${conn.proxy?.header.command ?? "-"} ${
          conn.proxy?.peer !== undefined ? format(conn.proxy.peer) : "-"
        }|${line}\n`
        : `${line}\n`
      first = false
      yield* conn.write(utf8.encode(report))
    }
  }
})

/** Reads `\n`-terminated lines from `conn`, keeping what follows a line for the next one. */
const lineReader = (conn: Connection.Connection) => {
  let buffered = ""
  return Effect.gen(function*() {
    while (!buffered.includes("\n")) {
      const chunk = yield* conn.read
      if (chunk === Connection.EOF) {
        const rest = buffered
        buffered = ""
        return rest
      }
      buffered += text.decode(chunk)
    }
    const nl = buffered.indexOf("\n")
    const line = buffered.slice(0, nl)
    buffered = buffered.slice(nl + 1)
    return line
  })
}

/** Reads one line: for connections that get one. */
const readLine = (conn: Connection.Connection): Effect.Effect<string, Connection.ConnectionError> => lineReader(conn)

/** Whether the server closes `conn` within `within` ms of real time (whatever it wrote first). */
const closedSoon = (conn: Connection.Connection, within = 2000): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    while (true) {
      const chunk = yield* conn.read
      if (chunk === Connection.EOF) return true
    }
  }).pipe(
    Effect.catchAll(() => Effect.succeed(true)),
    Effect.timeoutTo({ duration: within, onTimeout: () => false, onSuccess: (x) => x })
  )

/** Real time, whatever the Clock: for waits under a TestClock. */
const realSleep = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

const connect = (address: Address) =>
  Effect.flatMap(Transport.Transport, (transport) => transport.connect(address, { timeout: 5000 }))

const Who = Protocol.method("Who", { payload: {}, success: Schema.String })
const Whos = Protocol.rpc({ name: "whos", methods: [Who], correlation: "byId" })
const lengthField = LengthField.make({ fieldLength: 4 })

/**
 * Registers the PROXY protocol behaviours for one transport.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (options: ProxyProtocolConformanceOptions): void => {
  const live = (
    title: string,
    body: () => Effect.Effect<void, unknown, Transport.Transport | Scope.Scope>,
    timeout?: number
  ) => it.scopedLive(title, () => body().pipe(Effect.provide(options.layer)), timeout)

  /** A Server with the reporter, trusting the loopback peers. */
  const reporterServer = (proxyProtocol: ProxyProtocol.Options = { trusted: ["127.0.0.1", "::1"] }) =>
    Effect.flatMap(
      Transport.Transport,
      (transport) =>
        Effect.flatMap(transport.listen({ host: "127.0.0.1", port: 0 }, { proxyProtocol }), (listener) =>
          Server.serve(listener, reporter))
    )

  describe(`PROXY protocol over ${options.name}`, () => {
    live(
      "v1 header and the first line in one write: the handler sees the client's addresses, the proxy's in connection.proxy, and the line intact",
      () =>
        Effect.gen(function*() {
          const server = yield* reporterServer()
          const conn = yield* connect(server.address)
          yield* conn.write(concat(v1, utf8.encode("hello\nagain\n")))
          const lines = lineReader(conn)
          expect(yield* lines).toBe(`203.0.113.7:51234 198.51.100.1:443 PROXY ${format(conn.localAddress)}|hello`)
          expect(yield* lines).toBe("again")
          expect(ProxyProtocol.stats(server.listener)).toMatchObject({ proxied: 1, failed: 0, refused: 0, pending: 0 })
        })
    )

    live("v2 header (IPv6 client, a TLV) then data in one write", () =>
      Effect.gen(function*() {
        const server = yield* reporterServer()
        const conn = yield* connect(server.address)
        yield* conn.write(concat(v2, utf8.encode("x\n")))
        expect(yield* readLine(conn)).toBe(
          `[2001:db8::7]:40001 [2001:db8::1]:7000 PROXY ${format(conn.localAddress)}|x`
        )
      }))

    live(
      "the header split at every byte, in two writes, the first line right after it: same addresses, line intact (v1 and v2)",
      () =>
        Effect.gen(function*() {
          const server = yield* reporterServer()
          for (const [header, expected] of [[v1, "203.0.113.7:51234"], [v2, "[2001:db8::7]:40001"]] as const) {
            for (let k = 1; k < header.length; k++) {
              const conn = yield* connect(server.address)
              yield* conn.write(header.subarray(0, k))
              yield* realSleep(1)
              yield* conn.write(concat(header.subarray(k), utf8.encode(`split ${k}\n`)))
              const line = yield* readLine(conn)
              expect({ k, line: line.split(" ")[0] + "|" + line.split("|")[1] }).toEqual({
                k,
                line: `${expected}|split ${k}`
              })
              yield* conn.close
            }
          }
          expect(ProxyProtocol.stats(server.listener)?.proxied).toBe(v1.length - 1 + v2.length - 1)
        }),
      60_000
    )

    live(
      "a ProtocolServer handler sees the client's address in its Session; the proxy's stays on the connection",
      () =>
        Effect.gen(function*() {
          const handler = ProtocolServer.handlers(Whos, {
            Who: (_, context) =>
              Effect.succeed(
                `${format(context.session.remoteAddress)} ${
                  format(context.session.localAddress)
                } ${context.session.connection.proxy?.header.version}`
              )
          })
          const server = yield* ProtocolServer.serve(Whos, handler, { proxyProtocol: { trusted: ["127.0.0.1"] } })
          for (
            const [header, expected] of [[v1, "203.0.113.7:51234 198.51.100.1:443 1"], [
              v2,
              "[2001:db8::7]:40001 [2001:db8::1]:7000 2"
            ]] as const
          ) {
            const conn = yield* connect(server.address)
            const body = utf8.encode(JSON.stringify({ id: 1, request: { _tag: "Who" } }))
            const frame = new Uint8Array(4 + body.length)
            new DataView(frame.buffer).setUint32(0, body.length)
            frame.set(body, 4)
            yield* conn.write(concat(header, frame))
            const reply = yield* Framed.make(conn, lengthField).read
            expect(reply).not.toBe(Connection.EOF)
            expect(JSON.parse(text.decode(reply as Uint8Array))).toEqual({ id: 1, success: expected })
          }
        })
    )

    live("Middleware.ipFilter judges the client from the header, not the proxy", () =>
      Effect.gen(function*() {
        const handler = ProtocolServer.handlers(Whos, {
          Who: (_, context) => Effect.succeed(format(context.session.remoteAddress))
        })
        const server = yield* ProtocolServer.serve(Whos, handler, {
          proxyProtocol: { trusted: ["127.0.0.1"] },
          connection: [Middleware.ipFilter({ deny: ["203.0.113.0/24"] })]
        })
        const request = (() => {
          const body = utf8.encode(JSON.stringify({ id: 1, request: { _tag: "Who" } }))
          const frame = new Uint8Array(4 + body.length)
          new DataView(frame.buffer).setUint32(0, body.length)
          frame.set(body, 4)
          return frame
        })()
        const denied = yield* connect(server.address)
        yield* denied.write(concat(v1, request)).pipe(Effect.ignore)
        expect(yield* closedSoon(denied)).toBe(true)
        const allowed = yield* connect(server.address)
        yield* allowed.write(concat(v2, request))
        const reply = yield* Framed.make(allowed, lengthField).read
        expect(JSON.parse(text.decode(reply as Uint8Array))).toEqual({ id: 1, success: "[2001:db8::7]:40001" })
      }))

    live(
      "a bare accept hands out the connection with its header read and its first bytes intact",
      () =>
        Effect.gen(function*() {
          const transport = yield* Transport.Transport
          const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }, {
            proxyProtocol: { trusted: ["127.0.0.0/8"] }
          })
          const client = yield* connect(listener.address)
          yield* client.write(concat(v1, utf8.encode("first bytes")))
          const conn = yield* listener.accept
          expect(conn.remoteAddress).toEqual(CLIENT)
          expect(conn.localAddress).toEqual(FRONT)
          expect(conn.proxy?.peer).toEqual(client.localAddress)
          const { bytes } = yield* Connection.readExactly(conn, 11)
          expect(text.decode(bytes)).toBe("first bytes")
        })
    )

    live("LOCAL (v2) and PROXY UNKNOWN (v1): the connection keeps its real addresses", () =>
      Effect.gen(function*() {
        const server = yield* reporterServer()
        for (const header of [ProxyProtocol.encode({ command: "LOCAL" }, 2), utf8.encode("PROXY UNKNOWN\r\n")]) {
          const conn = yield* connect(server.address)
          yield* conn.write(concat(header, utf8.encode("check\n")))
          const line = yield* readLine(conn)
          const command = header.length === 16 ? "LOCAL" : "PROXY"
          expect(line).toBe(
            `${format(conn.localAddress)} ${format(server.address)} ${command} ${format(conn.localAddress)}|check`
          )
        }
        expect(ProxyProtocol.stats(server.listener)).toMatchObject({ proxied: 0, local: 2 })
      }))

    live(
      "a peer not in the trusted list is refused by default: closed, never handled, even with a valid header",
      () =>
        Effect.gen(function*() {
          let handled = 0
          const transport = yield* Transport.Transport
          const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }, {
            proxyProtocol: { trusted: ["10.0.0.0/8", "fd00::/8"] }
          })
          const server = yield* Server.serve(listener, Effect.sync(() => handled++))
          const conn = yield* connect(server.address)
          yield* conn.write(concat(v1, utf8.encode("hello\n"))).pipe(Effect.ignore)
          expect(yield* closedSoon(conn)).toBe(true)
          expect(handled).toBe(0)
          expect(ProxyProtocol.stats(listener)).toMatchObject({ refused: 1, proxied: 0 })
        })
    )

    live(
      "untrusted: \"direct\": an untrusted peer is served with its own address and its bytes as sent (no header parsed)",
      () =>
        Effect.gen(function*() {
          const server = yield* reporterServer({ trusted: ["10.0.0.0/8"], untrusted: "direct" })
          const conn = yield* connect(server.address)
          yield* conn.write(concat(utf8.encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")))
          yield* conn.write(utf8.encode("x\n"))
          const line = yield* readLine(conn)
          expect(line).toBe(
            `${format(conn.localAddress)} ${format(server.address)} - -|PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r`
          )
          expect(ProxyProtocol.stats(server.listener)).toMatchObject({ direct: 1, proxied: 0 })
        })
    )

    live(
      "a malformed or missing header from a trusted peer closes that connection only; open ones and new ones are served",
      () =>
        Effect.gen(function*() {
          const server = yield* reporterServer()
          const good = yield* connect(server.address)
          const goodLines = lineReader(good)
          yield* good.write(concat(v1, utf8.encode("one\n")))
          expect((yield* goodLines).endsWith("|one")).toBe(true)
          const bad = [
            "PROXY TCP4 203.0.113.300 198.51.100.1 1 2\r\nhello\n",
            "PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
            "hello, no header\n",
            "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"
          ]
          for (const b of bad) {
            const conn = yield* connect(server.address)
            yield* conn.write(utf8.encode(b)).pipe(Effect.ignore)
            expect({ b, closed: yield* closedSoon(conn) }).toEqual({ b, closed: true })
          }
          // a v2 header announcing more than maxHeaderBytes: refused after its 16 fixed bytes
          const huge = ProxyProtocol.encode({
            source: CLIENT,
            destination: FRONT,
            tlvs: [{ type: 0xe0, value: new Uint8Array(5000) }]
          }, 2)
          const conn = yield* connect(server.address)
          yield* conn.write(huge.subarray(0, 16))
          expect(yield* closedSoon(conn)).toBe(true)
          yield* good.write(utf8.encode("two\n"))
          expect(yield* goodLines).toBe("two")
          const again = yield* connect(server.address)
          yield* again.write(concat(v2, utf8.encode("three\n")))
          expect((yield* readLine(again)).endsWith("|three")).toBe(true)
          expect(ProxyProtocol.stats(server.listener)).toMatchObject({ proxied: 2, failed: bad.length + 1 })
        })
    )

    it.scoped("a header that does not arrive within the timeout: the connection is closed then, not before (TestClock)", () =>
      Effect.gen(function*() {
        const server = yield* reporterServer({ trusted: ["127.0.0.1"], timeout: "5 seconds" })
        const conn = yield* connect(server.address)
        yield* conn.write(utf8.encode("PROXY TCP4 203.0"))
        // until the stage reads it (real time: the TestClock does not move by itself)
        for (let i = 0; i < 500 && ProxyProtocol.stats(server.listener)?.pending !== 1; i++) yield* realSleep(5)
        expect(ProxyProtocol.stats(server.listener)?.pending).toBe(1)
        yield* realSleep(20)
        yield* TestClock.adjust("4900 millis")
        expect(yield* TestServices.provideLive(closedSoon(conn, 100))).toBe(false)
        yield* TestClock.adjust("200 millis")
        expect(yield* TestServices.provideLive(closedSoon(conn))).toBe(true)
        expect(ProxyProtocol.stats(server.listener)).toMatchObject({ failed: 1, pending: 0 })
      }).pipe(Effect.provide(options.layer)))

    live(
      "a peer that leaves before sending anything: closed and counted, nothing handled",
      () =>
        Effect.gen(function*() {
          let handled = 0
          const transport = yield* Transport.Transport
          const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }, {
            proxyProtocol: { trusted: ["127.0.0.1"] }
          })
          yield* Server.serve(listener, Effect.sync(() => handled++))
          const conn = yield* connect(listener.address)
          yield* conn.close
          yield* Effect.sync(() => ProxyProtocol.stats(listener)?.failed).pipe(
            Effect.repeat({ until: (n) => n === 1, schedule: Schedule.spaced("10 millis") }),
            Effect.timeout("5 seconds")
          )
          expect(handled).toBe(0)
        })
    )

    live("closing the listener resets connections whose header is still awaited", () =>
      Effect.gen(function*() {
        const transport = yield* Transport.Transport
        const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 }, {
          proxyProtocol: { trusted: ["127.0.0.1"] }
        })
        const accepting = yield* Effect.fork(listener.accept)
        const conn = yield* connect(listener.address)
        yield* conn.write(utf8.encode("PROXY TCP4"))
        yield* Effect.sync(() => ProxyProtocol.stats(listener)?.pending).pipe(
          Effect.repeat({ until: (n) => n === 1, schedule: Schedule.spaced("5 millis") }),
          Effect.timeout("5 seconds")
        )
        yield* listener.close
        expect(yield* closedSoon(conn)).toBe(true)
        const exit = yield* accepting.await
        expect(exit._tag).toBe("Failure")
        expect(ProxyProtocol.stats(listener)?.pending).toBe(0)
      }))

    live(
      "bad options fail the listen: a ListenError (Other, EINVAL) whose cause is a ProxyProtocolError of reason InvalidOptions",
      () =>
        Effect.gen(function*() {
          const transport = yield* Transport.Transport
          for (
            const proxyProtocol of [
              { trusted: ["not-an-address"] },
              { trusted: [] },
              { trusted: ["10.0.0.0/33"] },
              { trusted: ["127.0.0.1"], maxHeaderBytes: 100 },
              { trusted: ["127.0.0.1"], timeout: "0 millis" }
            ] satisfies Array<ProxyProtocol.Options>
          ) {
            const error = yield* Effect.flip(transport.listen({ host: "127.0.0.1", port: 0 }, { proxyProtocol }))
            expect(error.reason).toBe("Other")
            expect(error.code).toBe("EINVAL")
            expect(error.cause).toBeInstanceOf(ProxyProtocol.ProxyProtocolError)
            expect((error.cause as ProxyProtocol.ProxyProtocolError).reason).toBe("InvalidOptions")
          }
          // nothing stays bound: the same port can be listened on again
          const listener = yield* transport.listen({ host: "127.0.0.1", port: 0 })
          yield* listener.close
        })
    )
  })
}
