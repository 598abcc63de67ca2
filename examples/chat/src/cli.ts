/**
 * A terminal client for the chat (Node), what `nc` is to the plain server,
 * with TLS: the lines you type go to the server as they are, and every line
 * the server sends is printed as it comes.
 *
 * ```sh
 * node examples/chat/dist/cli.js [--host 127.0.0.1] [--port 7001] [--tls [--tls-ca PATH] [--tls-cert PATH --tls-key PATH]]
 * ```
 *
 * `--tls` connects with TLS, checking the server's certificate against the
 * system's CAs, or against `--tls-ca PATH` (a private CA); `--tls-cert PATH
 * --tls-key PATH` present a client certificate to a server that asks for one
 * (`--tls-ca` on the server). Any `--tls-*` flag implies `--tls`. `--help`
 * describes every flag.
 *
 * The end of your input (Ctrl-D, or the end of a pipe) ends our side of the
 * connection; the server then says you left and closes, and the client exits.
 * Exit status: 0 the server closed the connection (after `/quit`, the end of
 * your input, or its shutdown), 2 usage (or an unreadable certificate file),
 * 4 cannot connect (refused, timeout, TLS handshake refused) or the connection
 * failed. Messages go to stderr.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Address, Connection, Tls, Transport } from "@wirekit/core"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import { NodeTransport } from "@wirekit/node"
import { Effect, Fiber, Stream } from "effect"

/** Exit statuses. */
const EXIT = { ok: 0, usage: 2, noConnection: 4 } as const

interface Cli {
  readonly host: string
  readonly port: number
  readonly tls: Tls.TlsClientOptions | undefined
}

/** Writes to stdout; past its high-water mark, waits for it to drain (and so stops reading the server). */
const write = (bytes: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (process.stdout.write(bytes)) resume(Effect.void)
    else process.stdout.once("drain", () => resume(Effect.void))
  })

/** What went wrong, in one line: a TLS refusal by its reason, anything else by its message. */
const explain = (error: Transport.ConnectError | Connection.ConnectionError): string => {
  const tls = Tls.errorOf(error)
  if (tls !== undefined) return tls.message
  if (error._tag === "ConnectError" && error.reason === "Refused") {
    return "connection refused (is the server running? npm start -- --example chat)"
  }
  return error.message
}

const run = (cli: Cli): Effect.Effect<number, never, Transport.Transport> =>
  Effect.gen(function*() {
    const transport = yield* Transport.Transport
    const conn = yield* transport.connect(Address.tcp(cli.host, cli.port), {
      timeout: 5000,
      tls: cli.tls,
      keepAlive: true
    })
    // your input, as typed; its end ends our side (the server still answers and says goodbye)
    const input = yield* Stream.fromAsyncIterable(process.stdin as AsyncIterable<Uint8Array>, (e) => e).pipe(
      Stream.runForEach((chunk) => conn.write(chunk)),
      Effect.zipRight(conn.end),
      Effect.ignore,
      Effect.fork
    )
    for (;;) {
      const chunks = yield* conn.readMany
      if (chunks === Connection.EOF) break
      for (const chunk of chunks) yield* write(chunk)
    }
    yield* Fiber.interrupt(input)
    return EXIT.ok
  }).pipe(
    Effect.catchTags({
      ConnectError: (error) =>
        Effect.sync(
          () => (console.error(`chat: cannot connect to ${cli.host}:${cli.port}: ${explain(error)}`), EXIT.noConnection)
        ),
      ConnectionError: (error) =>
        Effect.sync(() => (console.error(`chat: the connection failed: ${explain(error)}`), EXIT.noConnection))
    }),
    Effect.scoped
  )

const command = Command.make(
  "chat-client",
  { host: ExampleFlags.host, port: ExampleFlags.port(7001, 1), tls: ExampleFlags.clientTls },
  (cli) =>
    run(cli).pipe(
      Effect.provide(NodeTransport.layer),
      Effect.flatMap((status) => status === EXIT.ok ? Effect.void : ExampleCli.exit(status))
    )
).pipe(Command.withDescription("A terminal client for the chat: your lines go to the server, its lines are printed."))

// Ctrl-C: 130
ExampleCli.run(command, { context: NodeContext.layer, runMain: NodeRuntime.runMain }, {
  name: "chat-client",
  interrupted: 130
})
