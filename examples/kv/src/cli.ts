/**
 * The kv command-line client (Node), a typed wirekit `Client` of {@link Kv.Kv}:
 *
 * ```sh
 * node --import tsx examples/kv/src/cli.ts [--host 127.0.0.1] [--port 7002] [--timeout 5000] [--tls ...] COMMAND
 *   get KEY                  prints the value (nothing, and exit 1, if there is none)
 *   set KEY VALUE            prints OK
 *   del KEY                  prints 1 if the key existed, else 0
 *   incr KEY [BY]            adds BY (default 1) to an integer value; prints the result
 *   keys [PREFIX] [--limit N]  the keys (sorted), one per line
 *   scan [PREFIX] [--limit N]  the entries (sorted by key), one KEY<TAB>VALUE line each, as they arrive
 *   wait KEY [--wait MS]     prints the value as soon as KEY has one (exit 1 after MS, default 10000)
 *   bench [--requests N] [--concurrency C] [--connections K] [--value-size B] [--time-limit S]
 * ```
 *
 * `--tls` connects with TLS, checking the server's certificate against the
 * system's CAs or `--tls-ca PATH`; `--tls-cert PATH --tls-key PATH` present a
 * client certificate (for a server started with `--tls-ca`). Any `--tls-*`
 * flag implies `--tls` (see scripts/example-tls.ts).
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
import { NodeRuntime } from "@effect/platform-node"
import { Address, Client, Tls } from "@wirekit/core"
import type { Transport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { Chunk, Effect, Either, Exit, Stream } from "effect"
import { parseArgs } from "node:util"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as Kv from "./Kv.ts"

// ---------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------

const USAGE =
  `usage: cli.ts [--host 127.0.0.1] [--port ${Kv.DEFAULT_PORT}] [--timeout MS] ${ExampleTls.clientUsage} COMMAND
  get KEY                    print the value (exit 1 if there is none)
  set KEY VALUE              store VALUE at KEY; prints OK
  del KEY                    delete KEY; prints 1 if it existed, else 0
  incr KEY [BY]              add BY (default 1) to the integer at KEY; prints the result
  keys [PREFIX] [--limit N]  the keys starting with PREFIX, sorted, one per line (default limit 100)
  scan [PREFIX] [--limit N]  the entries with PREFIX, sorted by key: KEY<TAB>VALUE lines as they arrive (default: all)
  wait KEY [--wait MS]       print KEY's value as soon as it has one (exit 1 after MS, default 10000)
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

const usageError = (message: string): never => {
  console.error(`kv: ${message}\n${USAGE}`)
  process.exit(EXIT.usage)
}

const int = (name: string, text: string | undefined, fallback: number, min: number, max: number): number => {
  if (text === undefined) return fallback
  const n = Number(text)
  if (!/^-?\d+$/.test(text) || n < min || n > max) {
    usageError(`${name} must be an integer from ${min} to ${max} (got ${text})`)
  }
  return n
}

const parse = (argv: ReadonlyArray<string>): Cli => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: String(Kv.DEFAULT_PORT) },
        timeout: { type: "string", default: "5000" },
        limit: { type: "string" },
        wait: { type: "string" },
        requests: { type: "string" },
        concurrency: { type: "string" },
        connections: { type: "string" },
        "value-size": { type: "string" },
        "time-limit": { type: "string" },
        help: { type: "boolean", short: "h" },
        ...ExampleTls.clientFlags
      }
    })
  } catch (error) {
    return usageError(error instanceof Error ? error.message : String(error))
  }
  const { positionals: p, values: v } = parsed
  if (v.help) {
    console.log(USAGE)
    process.exit(EXIT.ok)
  }
  const arity = (min: number, max: number) => {
    if (p.length - 1 < min || p.length - 1 > max) usageError(`${p[0]}: wrong number of arguments`)
  }
  const name = p[0]
  let command: Command
  switch (name) {
    case "get":
    case "del":
      arity(1, 1)
      command = { _tag: name, key: p[1]! }
      break
    case "set":
      arity(2, 2)
      command = { _tag: "set", key: p[1]!, value: p[2]! }
      break
    case "incr":
      arity(1, 2)
      command = { _tag: "incr", key: p[1]!, by: int("BY", p[2], 1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) }
      break
    case "keys":
      arity(0, 1)
      command = { _tag: "keys", prefix: p[1] ?? "", limit: int("--limit", v.limit, 100, 1, 10_000) }
      break
    case "scan":
      arity(0, 1)
      command = {
        _tag: "scan",
        prefix: p[1] ?? "",
        limit: v.limit === undefined ? undefined : int("--limit", v.limit, 0, 1, Number.MAX_SAFE_INTEGER)
      }
      break
    case "wait":
      arity(1, 1)
      command = { _tag: "wait", key: p[1]!, timeoutMs: int("--wait", v.wait, 10_000, 0, 20_000) }
      break
    case "bench":
      arity(0, 0)
      command = {
        _tag: "bench",
        requests: int("--requests", v.requests, 10_000, 1, 100_000_000),
        concurrency: int("--concurrency", v.concurrency, 50, 1, 100_000),
        connections: int("--connections", v.connections, 1, 1, 1024),
        valueSize: int("--value-size", v["value-size"], 100, 0, 8 * 1024 * 1024),
        timeLimit: int("--time-limit", v["time-limit"], 60, 1, 24 * 3600)
      }
      break
    case undefined:
      return usageError("no command")
    default:
      return usageError(`unknown command "${name}"`)
  }
  return {
    host: v.host,
    port: int("--port", v.port, Kv.DEFAULT_PORT, 1, 65535),
    // bench: the request timeout also bounds how long a request may stay queued behind the others
    timeout: int("--timeout", v.timeout, 5000, 1, 3_600_000),
    tls: ExampleTls.client(v, usageError),
    command
  }
}

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
          tls === undefined ? ExampleTls.lostConnectionHint(cli.tls) : `: ${tls.message}`
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

const run = (cli: Cli): Effect.Effect<number, never, Transport.Transport> =>
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
