/**
 * The Redis-protocol server, on wirekit's public API only and on any runtime:
 * entry points provide the transport.
 *
 * Each connection runs in push mode (`Connection.pump`, borrowing the chunks):
 * every command of a read is decoded, executed and encoded synchronously in
 * the runtime's read callback, and all replies of that read leave in ONE write. Bad input gets
 * Redis's `-ERR Protocol error: ...` reply and a close of that connection
 * only. Expiry is lazy (on access) and active (a sweep every 100 ms).
 */
import { Address, ByteBuffer, Connection, Server } from "@wirekit/core"
import type { Framing } from "@wirekit/core"
import { Data, Duration, Effect, Layer, Schedule } from "effect"
import * as Commands from "./Commands.ts"
import * as Resp from "./Resp.ts"
import { makeSession } from "./Session.ts"
import * as Store from "./Store.ts"

/** Options of the RESP server. */
export interface RespServerOptions {
  readonly host: string
  readonly port: number
  /** Decoder limits (max bulk length, array length, inline length, command bytes) and argument copying. */
  readonly limits?: Resp.DecoderOptions | undefined
  /** Active expiry period in ms. Default 100 (Redis's hz 10). */
  readonly sweepEvery?: number | undefined
}

/** The client sent QUIT: its replies are written, then the connection closes. */
class Quit extends Data.TaggedError("Quit") {}

/** Serves one connection against `store`. */
export const handleConnection = (store: Store.Store, limits?: Resp.DecoderOptions) =>
  Effect.gen(function*() {
    const conn = yield* Connection.Connection
    store.stats.connectionsReceived++
    store.stats.connectedClients++
    const session = makeSession({
      id: conn.id,
      addr: Address.format(conn.remoteAddress),
      laddr: Address.format(conn.localAddress)
    })
    const decoder = Resp.makeRequestDecoder(limits)
    const out = ByteBuffer.make()
    const replies = Resp.replyWriter(out)
    const commands: Array<Resp.Command> = []
    const onData = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<never, Framing.FramingError | Quit> | undefined => {
      let error: Framing.FramingError | undefined
      for (let i = 0; i < chunks.length && error === undefined; i++) error = decoder.decode(chunks[i]!, commands)
      // the commands of one read share one clock reading, as Redis's cached time
      const now = commands.length > 0 ? store.clock() : 0
      for (let i = 0; i < commands.length; i++) {
        const reply = Commands.execute(store, commands[i]!, session, now)
        // encode with the protocol as it is after the command (HELLO 3 answers in RESP3)
        replies.write(reply, session.protocol)
        if (session.closeRequested) break
      }
      commands.length = 0
      if (error !== undefined && !session.closeRequested) replies.write(Resp.protocolErrorReply(error), session.protocol)
      replies.end()
      if (out.length > 0) conn.unsafeWrite(out.take())
      if (session.closeRequested) return Effect.fail(new Quit())
      if (error !== undefined) return Effect.fail(error)
      return undefined
    }
    // borrowed reads: every argument is used during the call only (values kept in the
    // keyspace are copied by `own`), so runtimes that can reuse their read buffers do
    yield* conn.pump(onData, { borrow: true }).pipe(
      Effect.catchTag("Quit", () => Effect.void),
      Effect.ensuring(Effect.sync(() => {
        store.stats.connectedClients--
      }))
    )
  })

/** Active expiry: sweep until a pass finds few expired keys, as Redis does. */
const sweepLoop = (store: Store.Store) =>
  Effect.sync(() => {
    const now = store.clock()
    for (let rounds = 0; rounds < 16; rounds++) {
      const r = store.sweep(now)
      if (r.sampled === 0 || r.expired * 4 < r.sampled) break
    }
  })

/** The server as a Layer (needs a Transport): listens, sweeps, stops on release. */
export const layer = (options: RespServerOptions) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const store = Store.make()
    yield* Effect.forkScoped(Effect.repeat(sweepLoop(store), Schedule.spaced(Duration.millis(options.sweepEvery ?? 100))))
    const server = yield* Server.listen(Address.tcp(options.host, options.port), handleConnection(store, options.limits))
    yield* Effect.logInfo(`RESP server listening on ${Address.format(server.address)}; try: redis-cli -p ${(server.address as Address.TcpAddress).port}`)
  }))
