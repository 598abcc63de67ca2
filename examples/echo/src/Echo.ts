/**
 * The echo server, written once against `@wirekit/core` only: it does not
 * know which runtime carries it. Entry points (main.ts) pick the transport.
 */
import { Address, Connection, Server } from "@wirekit/core"
import { Effect, Layer } from "effect"

/** Echoes every byte back, batch by batch, until the peer ends its side. */
export const echo = Effect.gen(function*() {
  const conn = yield* Connection.Connection
  yield* Effect.logInfo("open")
  while (true) {
    const chunks = yield* conn.readMany
    if (chunks === Connection.EOF) break
    yield* conn.writeAll(chunks)
  }
  const stats = conn.unsafeStats()
  yield* Effect.logInfo(`close (${stats.bytesRead} bytes echoed)`)
})

/** Options of the echo server. */
export interface EchoOptions {
  readonly host: string
  readonly port: number
}

/** The echo server as a Layer (needs a Transport). */
export const layer = (options: EchoOptions) =>
  Server.layer(Address.tcp(options.host, options.port), echo)
    .pipe(Layer.tap(() => Effect.logInfo("echo server ready; try: nc " + options.host + " " + options.port)))
