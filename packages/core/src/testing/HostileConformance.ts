/**
 * The hostile-peer suite: what a server must withstand from peers that do not
 * play along (a client that never reads its replies, input that never ends,
 * a peer that trickles bytes), registered against a transport Layer like the
 * other conformance suites. Each test drives the server with a raw connection
 * speaking the wire format by hand, so nothing in a well-behaved client hides
 * the server's behaviour.
 *
 * @example
 * ```ts
 * import { HostileConformance } from "@wirekit/core/testing"
 * import { NodeTransport } from "@wirekit/node"
 * HostileConformance.run({ name: "node", layer: NodeTransport.layer })
 * ```
 * @since 0.1.0
 */
import { describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import type { Layer, Scope } from "effect"
import { expect } from "vitest"
import type { Address } from "../Address.ts"
import * as Connection from "../Connection.ts"
import * as Framed from "../Framed.ts"
import * as LengthField from "../LengthField.ts"
import * as Protocol from "../Protocol.ts"
import * as ProtocolServer from "../ProtocolServer.ts"
import * as Transport from "../Transport.ts"

/**
 * What an adapter passes to {@link run}.
 * @since 0.1.0
 * @category models
 */
export interface HostileConformanceOptions {
  /** The runtime's name, shown in test titles. */
  readonly name: string
  /** The transport under test, provided anew to each test. */
  readonly layer: Layer.Layer<Transport.Transport>
}

const utf8 = new TextEncoder()
const text = new TextDecoder()
const lengthField = LengthField.make({ fieldLength: 4 })

/** The value every `Big` request is answered with: 256 KiB. */
const BIG = "v".repeat(256 * 1024)
const BigGet = Protocol.method("Get", { payload: { key: Schema.String }, success: Schema.String })
const Bigs = Protocol.rpc({ name: "bigs", methods: [BigGet], correlation: "byId" })

/** `n` length-prefixed JSON requests in one array: what a pipelining peer sends in one write. */
const pipelined = (n: number, request: (id: number) => string): Uint8Array => {
  const frames = Array.from({ length: n }, (_, i) => utf8.encode(request(i + 1)))
  const out = new Uint8Array(frames.reduce((sum, f) => sum + 4 + f.length, 0))
  const view = new DataView(out.buffer)
  let at = 0
  for (const f of frames) {
    view.setUint32(at, f.length)
    out.set(f, at + 4)
    at += 4 + f.length
  }
  return out
}

const connect = (address: Address) =>
  Effect.flatMap(Transport.Transport, (transport) => transport.connect(address, { timeout: 2000 }))

/**
 * Registers the hostile-peer behaviours for one transport.
 *
 * @since 0.1.0
 * @category suites
 */
export const run = (options: HostileConformanceOptions): void => {
  const test = (title: string, body: () => Effect.Effect<void, unknown, Transport.Transport | Scope.Scope>, timeout?: number) =>
    it.scopedLive(title, () => body().pipe(Effect.provide(options.layer)), timeout)

  describe(`hostile peers over ${options.name}`, () => {
    test("a peer that never reads: one write of 1,000 pipelined requests for 256 KiB each is not computed ahead of what it takes; reading later gets every reply", () =>
      Effect.gen(function*() {
        let handled = 0
        const handler = ProtocolServer.handlers(Bigs, {
          Get: () => Effect.sync(() => (handled++, BIG))
        })
        const server = yield* ProtocolServer.serve(Bigs, handler, { maxInFlight: 4096 })
        const conn = yield* connect(server.address)
        // about 40 KB asking for 256 MiB of replies
        yield* conn.write(pipelined(1000, (id) => JSON.stringify({ id, request: { _tag: "Get", key: "k" } })))
        yield* Effect.sleep("400 millis")
        // what the socket buffers on both sides hold, plus one write's worth: far from all of it
        const early = handled
        expect(early).toBeGreaterThan(0)
        expect(early).toBeLessThan(100)
        // the server is not stuck: a reader gets every reply, each to its own request
        const framed = Framed.make(conn, lengthField)
        const ids = new Set<number>()
        while (ids.size < 1000) {
          const frame = yield* framed.read
          if (frame === Connection.EOF) break
          const reply = JSON.parse(text.decode(frame)) as { id: number; success: string }
          expect(reply.success.length).toBe(BIG.length)
          ids.add(reply.id)
        }
        expect(ids.size).toBe(1000)
        expect(handled).toBe(1000)
      }), 30_000)
  })
}
