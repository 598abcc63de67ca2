/**
 * The echo server, written once against `@wirekit/core` only: it does not
 * know which runtime carries it. Entry points (main*.ts) pick the transport.
 *
 * Framings:
 * - `none`:   bytes back as they come (`nc 127.0.0.1 7000`)
 * - `lines`:  every line back (LF or CRLF; max 8 KiB per line)
 * - `length`: every frame back, frames = 4-byte big-endian length + payload (max 8 MiB)
 */
import { Address, Connection, Framed, LengthField, Lines, Server } from "@wirekit/core"
import type { Framing, ProxyProtocol, Tls } from "@wirekit/core"
import { Effect, Layer } from "effect"

/** The framings the example offers. */
export type EchoFraming = "none" | "lines" | "length"

/** Echoes every byte back, batch by batch, until the peer ends its side. */
export const byteEcho = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  yield* conn.pump((chunks) => {
    conn.unsafeWriteAll(chunks)
  })
})

/** Echoes every frame back; all replies to one read leave in one write. */
export const frameEcho = (framing: Framing.Framing) =>
  Effect.gen(function*() {
    const framed = Framed.make(yield* Connection.Connection, framing)
    yield* framed.pump((frames) => {
      for (const frame of frames) framed.unsafeSend(frame)
    })
  })

const framingOf = (name: EchoFraming): Framing.Framing | undefined =>
  name === "length"
    ? LengthField.make({ fieldLength: 4 })
    : name === "lines"
    ? Lines.make({ encodeDelimiter: "lf" })
    : undefined

/** Options of the echo server. */
export interface EchoOptions {
  readonly host: string
  readonly port: number
  readonly framing: EchoFraming
  /** Serve TLS with these options (plain TCP when absent). */
  readonly tls?: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers (`--proxy-protocol`); absent: clients connect directly. */
  readonly proxyProtocol?: ProxyProtocol.Options | undefined
}

/** One connection: log open, echo, log close with its byte count. */
const handler = (framing: Framing.Framing | undefined) =>
  Effect.gen(function*() {
    const conn = yield* Connection.Connection
    yield* Effect.logInfo("open")
    yield* Effect.ensuring(
      framing ? frameEcho(framing) : byteEcho,
      Effect.suspend(() => Effect.logInfo(`close (${conn.unsafeStats().bytesRead} bytes echoed)`))
    )
  })

/** `""`, or how it serves TLS (for the log). */
const tlsNote = (tls: Tls.TlsServerOptions | undefined) =>
  tls === undefined ? "" : tls.requestCert ? " with TLS, client certificates required" : " with TLS"

/** How to try it: `nc`, or `openssl s_client` under TLS (add `-CAfile` for a private CA). */
const hint = (host: string, port: number, tls: Tls.TlsServerOptions | undefined) =>
  tls === undefined
    ? `nc ${host} ${port}`
    : `openssl s_client -quiet -connect ${host}:${port}${tls.requestCert ? " -cert CERT -key KEY" : ""}`

/**
 * The echo server as a Layer (needs a Transport): listens when built, logs
 * `echo: listening on HOST:PORT (framing: ...)` with the bound port and how
 * to try it, stops when released.
 */
export const layer = (options: EchoOptions) =>
  Layer.scopedDiscard(
    Effect.tap(
      Server.listen(Address.tcp(options.host, options.port), handler(framingOf(options.framing)), {
        tls: options.tls,
        proxyProtocol: options.proxyProtocol
      }),
      (server) => {
        const port = Address.isTcp(server.address) ? server.address.port : options.port
        return Effect.logInfo(
          `echo: listening on ${Address.format(server.address)} (framing: ${options.framing})${
            tlsNote(options.tls)
          }; try: ${hint(options.host, port, options.tls)}`
        )
      }
    )
  )
