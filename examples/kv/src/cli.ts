/**
 * The kv command-line client (Node), a typed wirekit `Client` of {@link Kv.Kv}:
 *
 * ```sh
 * node examples/kv/dist/cli.js [--host 127.0.0.1] [--port 7002] [--timeout 5000] [--tls ...] COMMAND
 *   get KEY                  prints the value (nothing, and exit 1, if there is none)
 *   set KEY VALUE            prints OK
 *   del KEY                  prints 1 if the key existed, else 0
 *   incr KEY [BY]            adds BY (default 1) to an integer value; prints the result
 *   keys [--limit N] [PREFIX]  the keys (sorted), one per line
 *   scan [--limit N] [PREFIX]  the entries (sorted by key), one KEY<TAB>VALUE line each, as they arrive
 *   wait [--wait MS] KEY     prints the value as soon as KEY has one (exit 1 after MS, default 10000)
 *   bench [--requests N] [--concurrency C] [--connections K] [--value-size B] [--time-limit S]
 * ```
 *
 * `--tls` connects with TLS, checking the server's certificate against the
 * system's CAs or `--tls-ca PATH`; `--tls-cert PATH --tls-key PATH` present a
 * client certificate (for a server started with `--tls-ca`). Any `--tls-*`
 * flag implies `--tls` (see `ExampleFlags` in examples/common). `--help`
 * (after a command: `kv get --help`) describes every flag.
 *
 * Exit status: 0 done, 1 no such key, 2 usage (or an unreadable certificate
 * file), 3 the server answered with an error (e.g. `KeyTooLong`), 4 no answer
 * (cannot connect, TLS handshake refused, connection lost, request timeout). Messages go to stderr. Put `--` before a VALUE or BY that
 * starts with `-`: `incr counter -- -5`.
 *
 * `scan` reads `Scan`'s stream: lines are printed as chunks arrive, and a
 * slow stdout (a pager, a pipe) slows the server's stream down through flow
 * control; `--limit N` stops after N entries, which cancels the server's
 * stream. `--timeout` bounds each wait for the next chunk, not the whole scan.
 *
 * `bench` sends `--requests` requests (half `Set`, half `Get`, over 1000 keys)
 * with `--concurrency` in flight, over a pool of `--connections` connections;
 * it draws one updating progress line on stderr (on each new percent or every
 * second, at most 10 times a second) and prints the throughput and latency
 * percentiles on stdout. It stops issuing requests after `--time-limit`
 * seconds (default 60). Ctrl-C aborts it without a summary (exit 130).
 *
 * @since 0.1.0
 */
import { Args, Command as Cli, HelpDoc, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Address, Client, Tls } from "@wirekit/core"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import { NodeTransport } from "@wirekit/node"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import * as Kv from "./Kv.ts"

// ---------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------

const USAGE =
  `kv [--host 127.0.0.1] [--port ${Kv.DEFAULT_PORT}] [--timeout MS] [--tls [--tls-ca PATH] [--tls-cert PATH --tls-key PATH]] COMMAND
  get KEY                    print the value (exit 1 if there is none)
  set KEY VALUE              store VALUE at KEY; prints OK
  del KEY                    delete KEY; prints 1 if it existed, else 0
  incr KEY [BY]              add BY (default 1) to the integer at KEY; prints the result
  keys [--limit N] [PREFIX]  the keys starting with PREFIX, sorted, one per line (default limit 100)
  scan [--limit N] [PREFIX]  the entries with PREFIX, sorted by key: KEY<TAB>VALUE lines as they arrive (default: all)
  wait [--wait MS] KEY       print KEY's value as soon as it has one (exit 1 after MS, default 10000)
  bench [--requests N] [--concurrency C] [--connections K] [--value-size B] [--time-limit S]
exit status: 0 ok, 1 no such key, 2 usage, 3 the server answered with an error, 4 no answer
(put -- before a VALUE or BY starting with -: incr counter -- -5)`

/** Exit statuses. */
const EXIT = { ok: 0, notFound: 1, usage: 2, serverError: 3, noAnswer: 4 } as const

type Command =
  | { readonly _tag: "get"; readonly key: string }
  | { readonly _tag: "set"; readonly key: string; readonly value: string }
  | { readonly _tag: "del"; readonly key: string }
  | { readonly _tag: "incr"; readonly key: string; readonly by: number }
  | { readonly _tag: "keys"; readonly prefix: string; readonly limit: number }
  | { readonly _tag: "scan"; readonly prefix: string; readonly limit: number | undefined }
  | { readonly _tag: "wait"; readonly key: string; readonly timeoutMs: number }
  | {
    readonly _tag: "bench"
    readonly requests: number
    readonly concurrency: number
    readonly connections: number
    readonly valueSize: number
    readonly timeLimit: number
  }

interface Cli {
  readonly host: string
  readonly port: number
  /** Request (and connect) timeout, ms. */
  readonly timeout: number
  /** Connect with TLS (plain TCP when absent). */
  readonly tls: Tls.TlsClientOptions | undefined
  readonly command: Command
}

/** An integer flag with a default. */
const int = (name: string, fallback: number, min: number, max: number, description: string) =>
  ExampleFlags.integer(name, { min, max }).pipe(
    Options.withDescription(`${description}; default ${fallback}.`),
    Options.withDefault(fallback)
  )

/** An integer argument (`BY`), refused like a flag. */
const intArg = (name: string, min: number, max: number) =>
  Args.text({ name }).pipe(
    Args.mapEffect((text) => {
      const n = Number(text)
      return /^-?\d+$/.test(text) && n >= min && n <= max
        ? Effect.succeed(n)
        : Effect.fail(HelpDoc.p(`${name} must be an integer from ${min} to ${max} (got ${text})`))
    })
  )

const key = Args.text({ name: "KEY" })
const prefix = Args.text({ name: "PREFIX" }).pipe(Args.withDefault(""))

/** The flags before the command. */
const kv = Cli.make("kv", {
  host: ExampleFlags.host,
  port: ExampleFlags.port(Kv.DEFAULT_PORT, 1),
  // bench: the request timeout also bounds how long a request may stay queued behind the others
  timeout: int("timeout", 5000, 1, 3_600_000, "How long to wait for a connection and for each answer, in ms"),
  tls: ExampleFlags.clientTls
}).pipe(
  Cli.withDescription("The kv client: one command per run."),
  Cli.withHandler(() => Effect.fail(ExampleFlags.invalid("no command")))
)

/** Runs `command` with the flags before it, and exits with its status. */
const execute = (command: Command) =>
  Effect.flatMap(kv, (flags) => run({ ...flags, command })).pipe(
    Effect.flatMap((status) => status === EXIT.ok ? Effect.void : ExampleCli.exit(status))
  )

const command = kv.pipe(Cli.withSubcommands([
  Cli.make("get", { key }, ({ key }) => execute({ _tag: "get", key })).pipe(
    Cli.withDescription("Print the value of KEY (exit 1 if there is none).")
  ),
  Cli.make(
    "set",
    { key, value: Args.text({ name: "VALUE" }) },
    ({ key, value }) => execute({ _tag: "set", key, value })
  ).pipe(Cli.withDescription("Store VALUE at KEY; prints OK.")),
  Cli.make("del", { key }, ({ key }) => execute({ _tag: "del", key })).pipe(
    Cli.withDescription("Delete KEY; prints 1 if it existed, else 0.")
  ),
  Cli.make(
    "incr",
    { key, by: intArg("BY", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER).pipe(Args.withDefault(1)) },
    ({ by, key }) => execute({ _tag: "incr", key, by })
  ).pipe(Cli.withDescription("Add BY (default 1) to the integer at KEY; prints the result.")),
  Cli.make(
    "keys",
    { prefix, limit: int("limit", 100, 1, 10_000, "The most keys listed") },
    ({ limit, prefix }) => execute({ _tag: "keys", prefix, limit })
  ).pipe(Cli.withDescription("The keys starting with PREFIX, sorted, one per line.")),
  Cli.make(
    "scan",
    {
      prefix,
      limit: ExampleFlags.integer("limit", { min: 1, max: Number.MAX_SAFE_INTEGER }).pipe(
        Options.withDescription("Stop after N entries (cancels the server's stream); default: all."),
        Options.optional
      )
    },
    ({ limit, prefix }) => execute({ _tag: "scan", prefix, limit: Option.getOrUndefined(limit) })
  ).pipe(Cli.withDescription("The entries with PREFIX, sorted by key: KEY<TAB>VALUE lines as they arrive.")),
  Cli.make(
    "wait",
    { key, wait: int("wait", 10_000, 0, 20_000, "How long to wait, in ms") },
    ({ key, wait }) => execute({ _tag: "wait", key, timeoutMs: wait })
  ).pipe(Cli.withDescription("Print KEY's value as soon as it has one (exit 1 after --wait ms).")),
  Cli.make(
    "bench",
    {
      requests: int("requests", 10_000, 1, 100_000_000, "Requests to send"),
      concurrency: int("concurrency", 50, 1, 100_000, "Requests in flight"),
      connections: int("connections", 1, 1, 1024, "Connections in the pool"),
      valueSize: int("value-size", 100, 0, 8 * 1024 * 1024, "Bytes per value"),
      timeLimit: int("time-limit", 60, 1, 24 * 3600, "Seconds after which no more requests are issued")
    },
    (options) => execute({ _tag: "bench", ...options })
  ).pipe(Cli.withDescription("Send requests (half Set, half Get); print the throughput and latency percentiles."))
]))

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/** Prints what went wrong (stderr) and returns the exit status. */
const report = (cli: Cli, error: Kv.KvError | Client.ClientError): number => {
  const at = Address.format(Address.tcp(cli.host, cli.port))
  if (error._tag !== "ClientError") {
    console.error(`kv: ${error._tag}: ${error.message}`)
    return EXIT.serverError
  }
  switch (error.reason) {
    case "Connect": {
      const cause = error.cause as
        | { readonly _tag?: string; readonly reason?: string; readonly message?: string }
        | undefined
      const tls = Tls.errorOf(cause)
      if (cause?._tag === "ConnectError" && cause.reason === "Refused") {
        console.error(
          `kv: cannot connect to ${at}: connection refused (is the server running? npm start -- --example kv)`
        )
      } else if (tls !== undefined) {
        console.error(`kv: cannot connect to ${at}: ${tls.message}`)
      } else {
        console.error(`kv: cannot connect to ${at}: ${cause?.message ?? error.message}`)
      }
      return EXIT.noAnswer
    }
    case "Timeout":
    case "PoolTimeout":
      console.error(`kv: no answer from ${at} within ${error.timeout ?? cli.timeout} ms`)
      return EXIT.noAnswer
    case "Disconnected": {
      // with its cause when the client knows it (a TLS handshake that failed while reconnecting)
      const tls = Tls.errorOf(error)
      console.error(
        `kv: the connection to ${at} was lost${
          tls === undefined ? ExampleFlags.lostConnectionHint(cli.tls) : `: ${tls.message}`
        }`
      )
      return EXIT.noAnswer
    }
    case "Decode":
      console.error(`kv: the answer from ${at} could not be read (is it a kv server?): ${error.message}`)
      return EXIT.noAnswer
    case "Remote":
    case "Refused":
      console.error(`kv: the server did not answer the request: ${error.fault?.message ?? error.message}`)
      return EXIT.serverError
    case "Encode":
      console.error(`kv: the request could not be sent: ${error.message}`)
      return EXIT.serverError
  }
}

// ---------------------------------------------------------------------------
// bench
// ---------------------------------------------------------------------------

/**
 * One progress line on stderr, redrawn when the percentage changes or a
 * second has passed, and never more than 10 times a second: at most
 * 101 + (seconds) draws.
 */
const progressBar = (total: number) => {
  const start = performance.now()
  let lastPercent = -1
  let lastDraw = 0
  let drawn = false
  let lastDone = -1
  const draw = (done: number, now: number) => {
    const percent = Math.floor((done * 100) / total)
    const width = 30
    const filled = Math.round((percent * width) / 100)
    const rate = done / Math.max((now - start) / 1000, 1e-3)
    process.stderr.write(
      `\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(percent).padStart(3)}% ${done}/${total} ${
        Math.round(rate)
      } req/s   `
    )
    lastPercent = percent
    lastDraw = now
    lastDone = done
    drawn = true
  }
  return {
    update: (done: number): void => {
      const now = performance.now()
      if (done === total) return draw(done, now)
      const since = now - lastDraw
      if (since >= 100 && (since >= 1000 || Math.floor((done * 100) / total) !== lastPercent)) draw(done, now)
    },
    /** Shows the final count (if the line is behind) and ends the line. */
    end: (done: number): void => {
      if (!drawn) return
      if (done !== lastDone) draw(done, performance.now())
      process.stderr.write("\n")
      drawn = false
    }
  }
}

/** The p-th percentile (0..1) of sorted latencies. */
const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!

const bench = (
  cli: Cli,
  client: Client.ClientFor<typeof Kv.Kv>,
  options: Extract<Command, { _tag: "bench" }>
): Effect.Effect<number, Client.ClientError> =>
  Effect.gen(function*() {
    const { concurrency, connections, requests, timeLimit, valueSize } = options
    // let the whole pool connect first (bounded: 100 × 20 ms)
    for (let i = 0; i < 100 && client.stats().connected < connections; i++) yield* Effect.sleep("20 millis")
    const value = "v".repeat(valueSize)
    // grown as needed: --requests may be large, and the time limit may stop the run early
    let latencies = new Float64Array(Math.min(requests, 1 << 16))
    const progress = progressBar(requests)
    const start = performance.now()
    const deadline = start + timeLimit * 1000
    let issued = 0
    let done = 0
    let errors = 0
    let firstError: Kv.KvError | Client.ClientError | undefined
    const worker = Effect.gen(function*() {
      while (issued < requests && performance.now() < deadline) {
        const i = issued++
        const key = `bench:${i % 1000}`
        const t0 = performance.now()
        const result = yield* Effect.either(
          i % 2 === 0 ? client.request(Kv.Set({ key, value })) : client.request(Kv.Get({ key }))
        )
        if (done === latencies.length) {
          const grown = new Float64Array(Math.min(requests, latencies.length * 2))
          grown.set(latencies)
          latencies = grown
        }
        latencies[done++] = performance.now() - t0
        if (Either.isLeft(result)) {
          const error = result.left
          // the link is gone: no point going on
          if (error._tag === "ClientError" && (error.reason === "Disconnected" || error.reason === "Connect")) {
            return yield* Effect.fail(error)
          }
          errors++
          firstError ??= error
        }
        progress.update(done)
      }
    })
    yield* Effect.all(Array.from({ length: Math.min(concurrency, requests) }, () => worker), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.ensuring(Effect.sync(() => progress.end(done))))
    const seconds = (performance.now() - start) / 1000
    const sorted = latencies.subarray(0, done).sort()
    const ms = (x: number) => `${x.toFixed(2)} ms`
    console.log(
      `bench: ${done} requests (half Set, half Get; ${valueSize}-byte values) to ${cli.host}:${cli.port}, ` +
        `${concurrency} concurrent, ${connections} connection(s)`
    )
    if (done < requests) console.log(`stopped at the time limit (${timeLimit} s): ${done} of ${requests} requests done`)
    console.log(`completed: ${done - errors} ok, ${errors} errors in ${seconds.toFixed(2)} s`)
    console.log(`throughput: ${Math.round(done / Math.max(seconds, 1e-6))} req/s`)
    console.log(
      `latency: p50 ${ms(percentile(sorted, 0.5))}, p99 ${ms(percentile(sorted, 0.99))}, max ${
        ms(percentile(sorted, 1))
      }`
    )
    if (firstError !== undefined) return report(cli, firstError)
    return EXIT.ok
  })

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

/**
 * Writes `text` to stdout; past its high-water mark, waits for it to drain.
 * While a slow reader (a pager, a pipe) holds stdout up, `scan` pulls no
 * more, so its acks stop and the server's stream pauses, instead of the text
 * piling up here.
 */
const write = (text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (process.stdout.write(text)) resume(Effect.void)
    else process.stdout.once("drain", () => resume(Effect.void))
  })

// the reader of stdout went away (`kv scan | head`): what it wanted is printed, stop quietly
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error
  process.exit(EXIT.ok)
})

const run = (cli: Cli): Effect.Effect<number> =>
  Effect.gen(function*() {
    const command = cli.command
    const client = yield* Client.make(Kv.Kv, Address.tcp(cli.host, cli.port), {
      requestTimeout: cli.timeout,
      connection: { timeout: cli.timeout, tls: cli.tls },
      ...(command._tag === "bench" && command.connections > 1 ? { pool: { size: command.connections } } : {})
    })
    switch (command._tag) {
      case "get": {
        const value = yield* client.request(Kv.Get({ key: command.key }))
        if (value === null) {
          console.error(`kv: no such key: ${command.key}`)
          return EXIT.notFound
        }
        console.log(value)
        return EXIT.ok
      }
      case "set":
        yield* client.request(Kv.Set({ key: command.key, value: command.value }))
        console.log("OK")
        return EXIT.ok
      case "del": {
        const existed = yield* client.request(Kv.Del({ key: command.key }))
        console.log(existed ? "1" : "0")
        return EXIT.ok
      }
      case "incr": {
        const value = yield* client.request(Kv.Incr({ key: command.key, by: command.by }))
        console.log(String(value))
        return EXIT.ok
      }
      case "keys": {
        const { keys, more } = yield* client.request(Kv.Keys({ prefix: command.prefix, limit: command.limit }))
        for (const key of keys) console.log(key)
        if (more) console.error(`kv: more keys than --limit ${command.limit}`)
        return EXIT.ok
      }
      case "scan": {
        const entries = client.stream(Kv.Scan({ prefix: command.prefix }))
        yield* (command.limit === undefined ? entries : Stream.take(entries, command.limit)).pipe(
          // bounds each wait for the next chunk: a long scan is fine, a silent server is not
          Stream.timeoutFail(() => new Client.ClientError({ reason: "Timeout", timeout: cli.timeout }), cli.timeout),
          Stream.runForEachChunk((chunk) =>
            write(Chunk.reduce(chunk, "", (text, { key, value }) => `${text}${key}\t${value}\n`))
          )
        )
        return EXIT.ok
      }
      case "wait": {
        // the request may take timeoutMs on the server: wait for it a little longer
        const value = yield* client.request(
          Kv.Wait({ key: command.key, timeoutMs: command.timeoutMs }),
          { timeout: command.timeoutMs + cli.timeout }
        )
        if (value === null) {
          console.error(`kv: ${command.key} got no value within ${command.timeoutMs} ms`)
          return EXIT.notFound
        }
        console.log(value)
        return EXIT.ok
      }
      case "bench":
        return yield* bench(cli, client, command)
    }
  }).pipe(
    Effect.catchAll((error) => Effect.sync(() => report(cli, error))),
    Effect.scoped,
    Effect.provide(NodeTransport.layer)
  )

// Ctrl-C aborts a command (a bench, a wait) without a summary: exit 130
ExampleCli.run(command, { context: NodeContext.layer, runMain: NodeRuntime.runMain }, {
  name: "kv",
  usage: USAGE,
  interrupted: 130
})
