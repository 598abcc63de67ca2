/**
 * The wirekit side of the benches, runtime-agnostic: each bench entry point
 * provides its runtime's transport.
 */
import { Address, Connection, Server } from "@wirekit/core"
import { Effect } from "effect"

/** Echo: every batch read is written back in one write (push mode: no fiber wake-up per read). */
export const echo = Effect.flatMap(Connection.Connection, (conn) =>
  conn.pump((chunks) => {
    conn.unsafeWriteAll(chunks)
  }))

/** Sink: read and discard. */
export const sink = Effect.flatMap(Connection.Connection, (conn) => conn.pump(() => {}))

/** Serves echo or sink until interrupted; prints `LISTENING <port>` when ready. */
export const echoServer = (options: { host: string; port: number; mode: "echo" | "sink" }) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* Server.listen(Address.tcp(options.host, options.port), options.mode === "sink" ? sink : echo)
    console.log(`LISTENING ${(server.address as Address.TcpAddress).port}`)
    return yield* Effect.never
  }))
