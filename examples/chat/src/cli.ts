/**
 * A terminal client for the chat (Node), what `nc` is to the plain server,
 * with TLS: the lines you type go to the server as they are, and every line
 * the server sends is printed as it comes.
 *
 * ```sh
 * node --import tsx examples/chat/src/cli.ts [--host 127.0.0.1] [--port 7001] [--tls [--tls-ca PATH] [--tls-cert PATH --tls-key PATH]]
 * ```
 *
 * `--tls` connects with TLS, checking the server's certificate against the
 * system's CAs, or against `--tls-ca PATH` (a private CA); `--tls-cert PATH
 * --tls-key PATH` present a client certificate to a server that asks for one
 * (`--tls-ca` on the server). Any `--tls-*` flag implies `--tls`.
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
import { NodeRuntime } from "@effect/platform-node"
import { Address, Connection, Tls, Transport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { Effect, Exit, Fiber, Stream } from "effect"
import { parseArgs } from "node:util"
import * as ExampleTls from "../../../scripts/example-tls.ts"

const USAGE = `usage: cli.ts [--host 127.0.0.1] [--port 7001] ${ExampleTls.clientUsage}`

/** Exit statuses. */
const EXIT = { ok: 0, usage: 2, noConnection: 4 } as const

interface Cli {
  readonly host: string
  readonly port: number
  readonly tls: Tls.TlsClientOptions | undefined
}

const usageError = (message: string): never => {
  console.error(`chat: ${message}\n${USAGE}`)
  process.exit(EXIT.usage)
}

const parse = (argv: ReadonlyArray<string>): Cli => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "7001" },
        help: { type: "boolean", short: "h" },
        ...ExampleTls.clientFlags
      }
    }).values
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error))
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(EXIT.ok)
  }
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
    usageError(`--port must be an integer from 1 to 65535 (got ${values.port})`)
  }
  return { host: values.host, port, tls: ExampleTls.client(values, usageError) }
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

const cli = parse(process.argv.slice(2))
run(cli).pipe(
  Effect.provide(NodeTransport.layer),
  (program) =>
    NodeRuntime.runMain(program, {
      disablePrettyLogger: true,
      // the program's value is the exit status; Ctrl-C: 130
      teardown: (exit, onExit) =>
        onExit(Exit.isSuccess(exit) ? (exit.value as number) : Exit.isInterrupted(exit) ? 130 : 1)
    })
)
