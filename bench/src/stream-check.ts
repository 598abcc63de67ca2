/**
 * The `stream` bench suite's shared part (no wirekit here: the @effect/rpc
 * entries import it too): the entries' flags, the client's check of every
 * item and its timing, and the client's result line.
 *
 * One entry file per framework and runtime is both server and client:
 *
 * ```
 *   … --role server --host 127.0.0.1 --port 0            prints LISTENING <port>, serves until SIGTERM
 *   … --role client --host 127.0.0.1 --port P --items N --warmup-items W
 *       one connection; an unmeasured stream of 1..W, then the measured stream of 1..N;
 *       prints RESULT {"items":N,"ms":…,"items_per_s":…,"first_item_ms":…} and exits 0,
 *       or ERROR <why> and exits 1 (a missing, extra or out-of-order item, a failure)
 * ```
 */
import { Cause, Chunk, Data, Effect, Stream } from "effect"
import { parseFlags } from "./flags.ts"

export interface StreamFlags {
  readonly role: "server" | "client"
  readonly host: string
  readonly port: number
  /** Items of the measured stream (client). */
  readonly items: number
  /** Items of the unmeasured stream before it, on the same connection (client; 0: none). */
  readonly warmup: number
}

export const parseStreamFlags = (argv: ReadonlyArray<string>): StreamFlags => {
  const flags = parseFlags(argv)
  const role = flags.role ?? "server"
  const port = Number(flags.port ?? "0")
  const items = Number(flags.items ?? "1000000")
  const warmup = Number(flags["warmup-items"] ?? "0")
  if (role !== "server" && role !== "client") throw new Error("--role must be server or client")
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error("bad --port")
  if (!Number.isInteger(items) || items < 1) throw new Error("bad --items")
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error("bad --warmup-items")
  return { role, host: flags.host ?? "127.0.0.1", port, items, warmup }
}

/** A measured stream: its items, the time to its last and its first item. */
export interface StreamResult {
  readonly items: number
  readonly ms: number
  readonly items_per_s: number
  readonly first_item_ms: number
}

export class StreamCheckError extends Data.TaggedError("StreamCheckError")<{ readonly message: string }> {}

/**
 * Runs `stream()` (the request is sent when it starts) and checks that it
 * yields exactly 1..n in order; the time runs from just before the request to
 * the n-th item.
 */
export const timeStream = <E>(n: number, stream: () => Stream.Stream<number, E>) =>
  Effect.suspend(() => {
    const t0 = performance.now()
    let next = 1
    let firstMs = -1
    let lastMs = -1
    return Stream.runForEachChunk(stream(), (chunk) => {
      if (firstMs < 0) firstMs = performance.now() - t0
      const items = Chunk.toReadonlyArray(chunk)
      for (let i = 0; i < items.length; i++) {
        if (next > n || items[i] !== next) {
          return Effect.fail(
            new StreamCheckError({
              message: `item #${next}: expected ${next > n ? "the end" : next}, got ${JSON.stringify(items[i])}`
            })
          )
        }
        next++
      }
      if (next > n && lastMs < 0) lastMs = performance.now() - t0
      return Effect.void
    }).pipe(Effect.flatMap((): Effect.Effect<StreamResult, StreamCheckError> =>
      next === n + 1
        ? Effect.succeed({ items: n, ms: lastMs, items_per_s: n / (lastMs / 1000), first_item_ms: firstMs })
        : Effect.fail(new StreamCheckError({ message: `the stream ended after ${next - 1} of ${n} items` }))
    ))
  })

/** The client: the warmup stream (if any), then the measured one; `measure(n)` runs one stream of 1..n. */
export const clientRun = <E, R>(flags: StreamFlags, measure: (n: number) => Effect.Effect<StreamResult, E, R>) =>
  Effect.gen(function*() {
    if (flags.warmup > 0) yield* measure(flags.warmup)
    return yield* measure(flags.items)
  })

/** Runs the client program, prints its `RESULT` (or `ERROR`) line and exits. */
export const clientMain = <E>(program: Effect.Effect<StreamResult, E>, exit: (code: number) => void): void => {
  Effect.runPromiseExit(program).then((result) => {
    if (result._tag === "Success") {
      console.log(`RESULT ${JSON.stringify(result.value)}`)
      exit(0)
    } else {
      const pretty = Cause.pretty(result.cause)
      console.log(`ERROR ${pretty.split("\n")[0]}`)
      console.error(pretty)
      exit(1)
    }
  })
}
