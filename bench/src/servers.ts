/**
 * The wirekit side of the benches, runtime-agnostic: each bench entry point
 * (bench/servers/wirekit-{node,bun,deno}-echo.ts) provides its runtime's
 * transport and nothing else.
 */
import { Address, Connection, Framed, LengthField, Protocol, ProtocolServer, Server } from "@wirekit/core"
import type { Tls } from "@wirekit/core"
import { Cause, Effect } from "effect"
import { readFileSync } from "node:fs"
import { parseFlags } from "./flags.ts"

/** The servers keep nothing they read: they borrow the chunks (read buffers reused where the runtime allows). */
const borrow = { borrow: true } as const

/** Echo: every batch read is written back in one write (push mode: no fiber wake-up per read). */
export const echo = Effect.flatMap(Connection.Connection, (conn) =>
  conn.pump((chunks) => {
    conn.unsafeWriteAll(chunks)
  }, borrow))

/** Sink: read and discard. */
export const sink = Effect.flatMap(Connection.Connection, (conn) => conn.pump(() => {}, borrow))

/** 4-byte big-endian length prefix: the loadgen's frame format. */
const framing = LengthField.make({ fieldLength: 4 })

/** The framed handler: a frame in, the reply frame out (echo). */
const handle = (frame: Uint8Array): Uint8Array => frame

/**
 * Framed echo: decode LengthField(4), `handle` each frame, encode the replies;
 * all replies of one read leave in one write (Framed.pump).
 */
export const framedEcho = Effect.suspend(() =>
  Effect.flatMap(Connection.Connection, (conn) => {
    const framed = Framed.make(conn, framing)
    return framed.pump((frames) => {
      for (let i = 0; i < frames.length; i++) framed.unsafeSend(handle(frames[i]!))
    }, borrow)
  })
)

/** Framed sink: decode the frames and discard them. */
export const framedSink = Effect.flatMap(
  Connection.Connection,
  (conn) => Framed.make(conn, framing).pump(() => {}, borrow)
)

/**
 * A typed request/response echo protocol (issue 4's bench): LengthField(4)
 * framing, the frame is the message, responses in request order. The wire is
 * the loadgen's echo, so the raw baseline is the batched framed node:net server.
 */
const EchoProtocol = Protocol.make({ name: "echo", framing, inbound: Protocol.bytes, outbound: Protocol.bytes })

/** Serves the echo protocol; `typical` uses an Effect.gen handler instead of Effect.succeed. */
const protocolServer = (
  options: { host: string; port: number; tls?: Tls.TlsServerOptions | undefined },
  typical: boolean
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* ProtocolServer.serve(
      EchoProtocol,
      typical
        ? (request: Uint8Array) =>
          Effect.gen(function*() {
            return request
          })
        : (request: Uint8Array) => Effect.succeed(request),
      { address: Address.tcp(options.host, options.port), ...(options.tls ? { tls: options.tls } : {}) }
    )
    console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
    return yield* Effect.never
  }))

export type Mode = "echo" | "sink"
export type Framing = "none" | "length4" | "proto" | "proto-gen"

/**
 * Serves echo or sink (optionally framed) until interrupted; prints `LISTENING <port>` when ready.
 * With `tls` the listener speaks TLS (`ListenOptions.tls`, the transport's TLS defaults otherwise);
 * a transport whose listener comes back without TLS fails the server rather than serve plain TCP
 * under a TLS name.
 */
export const echoServer = (
  options: { host: string; port: number; mode: Mode; framing?: Framing; tls?: Tls.TlsServerOptions | undefined }
) =>
  options.framing === "proto" || options.framing === "proto-gen"
    ? protocolServer(options, options.framing === "proto-gen")
    : Effect.scoped(Effect.gen(function*() {
      const framed = options.framing === "length4"
      const handler = framed
        ? (options.mode === "sink" ? framedSink : framedEcho)
        : options.mode === "sink"
        ? sink
        : echo
      const server = yield* Server.listen(
        Address.tcp(options.host, options.port),
        handler,
        options.tls ? { tls: options.tls } : undefined
      )
      if (options.tls && server.listener.tls === undefined) {
        return yield* Effect.dieMessage(
          "TLS requested, but this transport's listener does not speak TLS (not supported yet)"
        )
      }
      console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
      return yield* Effect.never
    }))

/**
 * Runs a bench server: a failure (listen error, no TLS on this transport) is printed and exits
 * with status 1 at once, so the runner reports it instead of waiting for a ready line that
 * never comes.
 */
export const runServer = <E>(server: Effect.Effect<unknown, E>, exit: (code: number) => void): void => {
  Effect.runFork(server.pipe(Effect.catchAllCause((cause) =>
    Effect.sync(() => {
      console.error(`server failed: ${Cause.pretty(cause)}`)
      exit(1)
    })
  )))
}

/**
 * Parses the runner's server flags: `--port N --host H --mode echo|sink [--framing none|length4]
 * [--tls-cert PATH --tls-key PATH]` (PEM files, read here: the listener gets their text).
 */
export const parseServerFlags = (argv: ReadonlyArray<string>) => {
  const flags = parseFlags(argv)
  const mode = flags.mode ?? "echo"
  const framing = flags.framing ?? "none"
  const port = Number(flags.port ?? "0")
  if (mode !== "echo" && mode !== "sink") throw new Error("--mode must be echo or sink")
  if (framing !== "none" && framing !== "length4" && framing !== "proto" && framing !== "proto-gen") {
    throw new Error("--framing must be none, length4, proto or proto-gen")
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("bad --port")
  const certFile = flags["tls-cert"], keyFile = flags["tls-key"]
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error("--tls-cert and --tls-key go together")
  const tls: Tls.TlsServerOptions | undefined = certFile !== undefined && keyFile !== undefined
    ? { certificates: { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") } }
    : undefined
  return { host: flags.host ?? "127.0.0.1", port, mode: mode as Mode, framing: framing as Framing, tls }
}
