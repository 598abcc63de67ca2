/**
 * The Redis-protocol server, on wirekit's public API only and on any runtime:
 * entry points provide the transport.
 *
 * RESP is a {@link Protocol.custom} protocol: its decoder finds and parses
 * whole commands in the byte stream (no framing layer), its encoder writes
 * each reply in the RESP version the connection chose (`HELLO 3`), read from
 * the connection's {@link Session}. {@link ProtocolServer} serves it: every
 * command of a read is executed in place (the handler answers at once) and
 * all replies of that read leave in ONE write; pipelined commands are
 * answered in order; limits, idle timeout, middleware and a graceful drain
 * come with it. Bad input gets Redis's `-ERR Protocol error: ...` reply and a
 * close of that connection only. Expiry is lazy (on access) and active (a
 * sweep every 100 ms).
 *
 * ```
 *   bytes ─RequestDecoder─▶ Command ─execute─▶ Reply ─encodeReply(protocol 2|3)─▶ output
 * ```
 */
import { Address, Codec, Protocol, ProtocolServer, Session } from "@wirekit/core"
import type { ByteBuffer, ProxyProtocol, Tls } from "@wirekit/core"
import type { ProtocolServer as ProtocolServerT } from "@wirekit/core"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as Commands from "./Commands.ts"
import * as Resp from "./Resp.ts"
import { makeSession } from "./Session.ts"
import type { Session as RespSession } from "./Session.ts"
import * as Store from "./Store.ts"

/** Options of the RESP server. */
export interface RespServerOptions {
  readonly host: string
  readonly port: number
  /** Decoder limits (max bulk length, array length, inline length, command bytes) and argument copying. */
  readonly limits?: Resp.DecoderOptions | undefined
  /** Active expiry period in ms. Default 100 (Redis's hz 10). */
  readonly sweepEvery?: number | undefined
  /** Close a connection that sent nothing for this long. Default: never (Redis's `timeout 0`). */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Serve TLS with these options (plain TCP when absent), as `redis-server --tls-port` does. */
  readonly tls?: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers (`--proxy-protocol`); absent: clients connect directly. */
  readonly proxyProtocol?: ProxyProtocol.Options | undefined
}

/** This connection's command state (RESP version, database, name), made on first use. */
const State = Session.state<RespSession | undefined>("resp", () => undefined)

const stateOf = (session: Session.Session<never>): RespSession => {
  let state = session.get(State)
  if (state === undefined) {
    state = makeSession({
      id: session.id,
      addr: Address.format(session.remoteAddress),
      laddr: Address.format(session.localAddress)
    })
    session.set(State, state)
  }
  return state
}

const ascii = new TextDecoder("latin1")

/**
 * A connection's command decoder, made when its first bytes arrive: its state
 * is sizeable, and a connection that sends nothing (many of them, on a busy
 * server) need not hold it.
 */
class LazyRequestDecoder implements Resp.RequestDecoder {
  private decoder: Resp.RequestDecoder | undefined = undefined

  constructor(private readonly limits: Resp.DecoderOptions | undefined) {}

  decode(chunk: Uint8Array, out: Array<Resp.Command>) {
    return (this.decoder ??= Resp.makeRequestDecoder(this.limits)).decode(chunk, out)
  }

  finish(out: Array<Resp.Command>) {
    return this.decoder === undefined ? undefined : this.decoder.finish(out)
  }

  get buffered(): number {
    return this.decoder === undefined ? 0 : this.decoder.buffered
  }
}

/** The wire protocol: commands in, replies out, in order. */
export const protocol = (limits?: Resp.DecoderOptions): Protocol.Protocol<Resp.Command, Resp.Reply> => {
  // the limits are checked as a connection opens (a decoder made once), as when each made its own
  let checked = false
  return Protocol.custom<Resp.Command, Resp.Reply>({
    name: "resp",
    correlation: "inOrder",
    // a stream that does not parse is answered with Redis's protocol error, then closed
    onBadInput: "respond",
    // logs, metrics and spans name a command by its first argument
    describe: (command) => command.length === 0 ? "(empty)" : ascii.decode(command[0]!).toUpperCase(),
    server: (session) => {
      if (!checked) {
        Resp.makeRequestDecoder(limits)
        checked = true
      }
      const state = stateOf(session)
      // replies are staged in the reply encoder's scratch area, moved into the output once per batch
      let bound: ByteBuffer.ByteBuffer | undefined
      let replies: Resp.ReplyWriter | undefined
      const writerFor = (out: ByteBuffer.ByteBuffer): Resp.ReplyWriter => {
        if (out !== bound) {
          bound = out
          replies = Resp.replyWriter(out)
        }
        return replies!
      }
      return {
        decoder: Codec.mapDecoder(
          new LazyRequestDecoder(limits),
          (command): Protocol.Incoming<Resp.Command, never> => ({ _tag: "Request", request: command, id: undefined })
        ),
        // the reply in the RESP version as it is after the command (HELLO 3 answers in RESP3)
        encodeResponse(_id, outcome, out) {
          const reply = outcome._tag === "Success"
            ? outcome.value
            : outcome._tag === "Fault"
            ? faultReply(outcome.fault)
            : Resp.err("unexpected failure")
          writerFor(out).write(reply, state.protocol)
          return undefined
        },
        encodePush() {
          return undefined
        },
        encodeDraining: undefined,
        flush(out) {
          writerFor(out).end()
        }
      }
    }
  })
}

/** A fault as Redis would word it: a bad stream is a protocol error. */
const faultReply = (fault: Protocol.ProtocolError): Resp.Reply =>
  fault.reason === "BadRequest"
    ? Resp.err(`Protocol error: ${fault.detail ?? "invalid request"}`)
    : Resp.err(fault.detail === undefined ? fault.reason : `${fault.reason}: ${fault.detail}`)

/** Executes each command against `store`; QUIT answers, then closes the connection. */
export const handler =
  (store: Store.Store) => (command: Resp.Command, context: ProtocolServerT.RequestContext<never>) => {
    const state = stateOf(context.session)
    const reply = Commands.execute(store, command, state)
    if (state.closeRequested) context.session.unsafeClose()
    return Effect.succeed(reply)
  }

/** Counts connections in the store's stats (INFO clients / stats). */
const connectionStats = (store: Store.Store) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      store.stats.connectionsReceived++
      store.stats.connectedClients++
    }),
    () =>
      Effect.sync(() => {
        store.stats.connectedClients--
      })
  )

/** Serves `store` on `address` until the scope closes (graceful drain). */
export const serve = (
  store: Store.Store,
  options: {
    readonly address: Address.Address
    readonly limits?: Resp.DecoderOptions | undefined
    readonly idleTimeout?: Duration.DurationInput | undefined
    readonly tls?: Tls.TlsServerOptions | undefined
    readonly proxyProtocol?: ProxyProtocol.Options | undefined
  }
) =>
  ProtocolServer.serve(protocol(options.limits), handler(store), {
    address: options.address,
    connection: [connectionStats(store)],
    idleTimeout: options.idleTimeout ?? Duration.infinity,
    tls: options.tls,
    proxyProtocol: options.proxyProtocol
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
    yield* Effect.forkScoped(
      Effect.repeat(sweepLoop(store), Schedule.spaced(Duration.millis(options.sweepEvery ?? 100)))
    )
    const { idleTimeout, limits, tls, proxyProtocol } = options
    const server = yield* serve(store, {
      address: Address.tcp(options.host, options.port),
      limits,
      idleTimeout,
      tls,
      proxyProtocol
    })
    const port = (server.address as Address.TcpAddress).port
    const mode = tls === undefined ? "" : tls.requestCert ? " with TLS (client certificates required)" : " with TLS"
    const tlsFlags = tls === undefined ? "" : tls.requestCert ? "--tls --cert CERT --key KEY " : "--tls "
    yield* Effect.logInfo(
      `RESP server listening on ${Address.format(server.address)}${mode}; try: redis-cli ${tlsFlags}-p ${port}`
    )
  }))
