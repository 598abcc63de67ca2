/**
 * The bank command-line client (Node), a typed wirekit `Client` of {@link Bank.Bank}:
 *
 * ```sh
 * node --import tsx examples/bank/src/cli.ts [--host 127.0.0.1] [--port 7003] [--timeout 5000] [--tls ...] COMMAND
 *   open ACCOUNT                       opens an account (balance 0); prints OK
 *   balance ACCOUNT                    prints the balance (cents)
 *   deposit ACCOUNT AMOUNT [--key K]   adds AMOUNT cents; prints the receipt
 *   transfer FROM TO AMOUNT [--key K]  moves AMOUNT cents; prints the receipt
 * ```
 *
 * With `--key K`, a `deposit` or `transfer` is applied at most once for K:
 * run the same command again after a timeout (exit 4) and it prints the
 * first outcome, the same receipt (same transaction number) or the same
 * error, without moving money twice. Without a key a retry is a new request.
 *
 * `--tls` connects with TLS, checking the server's certificate against the
 * system's CAs or `--tls-ca PATH`; `--tls-cert PATH --tls-key PATH` present a
 * client certificate (for a server started with `--tls-ca`). Any `--tls-*`
 * flag implies `--tls` (see scripts/example-tls.ts).
 *
 * Exit status: 0 done, 1 no such account, 2 usage (or an unreadable
 * certificate file), 3 the server answered with another error (e.g.
 * `InsufficientFunds`), 4 no answer (cannot connect, TLS handshake refused,
 * connection lost, request timeout). Messages go to stderr.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Address, Client, Tls } from "@wirekit/core"
import type { Transport } from "@wirekit/core"
import { NodeTransport } from "@wirekit/node"
import { Effect, Exit } from "effect"
import { parseArgs } from "node:util"
import * as ExampleTls from "../../../scripts/example-tls.ts"
import * as Bank from "./Bank.ts"

// ---------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------

const USAGE =
  `usage: cli.ts [--host 127.0.0.1] [--port ${Bank.DEFAULT_PORT}] [--timeout MS] ${ExampleTls.clientUsage} COMMAND
  open ACCOUNT                       open an account (balance 0); prints OK
  balance ACCOUNT                    print the balance, in cents
  deposit ACCOUNT AMOUNT [--key K]   add AMOUNT cents; prints the receipt
  transfer FROM TO AMOUNT [--key K]  move AMOUNT cents; prints the receipt
with --key, a deposit or transfer is applied at most once per key: a retry prints the first outcome
exit status: 0 ok, 1 no such account, 2 usage, 3 the server answered with an error, 4 no answer
(put -- before an AMOUNT starting with -: deposit alice -- -5)`

/** Exit statuses. */
const EXIT = { ok: 0, notFound: 1, usage: 2, serverError: 3, noAnswer: 4 } as const

type Command =
  | { readonly _tag: "open"; readonly account: string }
  | { readonly _tag: "balance"; readonly account: string }
  | { readonly _tag: "deposit"; readonly account: string; readonly amount: number; readonly key: string | undefined }
  | {
    readonly _tag: "transfer"
    readonly from: string
    readonly to: string
    readonly amount: number
    readonly key: string | undefined
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
  console.error(`bank: ${message}\n${USAGE}`)
  process.exit(EXIT.usage)
}

const int = (name: string, text: string, min: number, max: number): number => {
  const n = Number(text)
  if (!/^-?\d+$/.test(text) || n < min || n > max) {
    usageError(`${name} must be an integer from ${min} to ${max} (got ${text})`)
  }
  return n
}

/** An account name as the protocol takes it (1 to 64 characters), else a usage error. */
const account = (text: string): string =>
  text.length >= 1 && text.length <= Bank.MAX_ACCOUNT_LENGTH
    ? text
    : usageError(`an account name has 1 to ${Bank.MAX_ACCOUNT_LENGTH} characters (got ${text.length})`)

/** An amount in cents: any safe integer (the server refuses zero and negative ones, with InvalidAmount). */
const amount = (text: string): number => int("AMOUNT (cents)", text, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)

const parse = (argv: ReadonlyArray<string>): Cli => {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: String(Bank.DEFAULT_PORT) },
        timeout: { type: "string", default: "5000" },
        key: { type: "string" },
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
  const arity = (n: number) => {
    if (p.length - 1 !== n) usageError(`${p[0]}: wrong number of arguments`)
  }
  const key = v.key
  if (key !== undefined && (key.length < 1 || key.length > Bank.MAX_KEY_LENGTH)) {
    usageError(`--key has 1 to ${Bank.MAX_KEY_LENGTH} characters (got ${key.length})`)
  }
  const name = p[0]
  if (key !== undefined && name !== "deposit" && name !== "transfer") usageError(`--key is for deposit and transfer`)
  let command: Command
  switch (name) {
    case "open":
    case "balance":
      arity(1)
      command = { _tag: name, account: account(p[1]!) }
      break
    case "deposit":
      arity(2)
      command = { _tag: "deposit", account: account(p[1]!), amount: amount(p[2]!), key }
      break
    case "transfer":
      arity(3)
      command = { _tag: "transfer", from: account(p[1]!), to: account(p[2]!), amount: amount(p[3]!), key }
      break
    case undefined:
      return usageError("no command")
    default:
      return usageError(`unknown command "${name}"`)
  }
  return {
    host: v.host,
    port: int("--port", v.port, 1, 65535),
    timeout: int("--timeout", v.timeout, 1, 3_600_000),
    tls: ExampleTls.client(v, usageError),
    command
  }
}

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/** Prints what went wrong (stderr) and returns the exit status. */
const report = (cli: Cli, error: Bank.BankError | Client.ClientError): number => {
  const at = Address.format(Address.tcp(cli.host, cli.port))
  if (error._tag !== "ClientError") {
    console.error(`bank: ${error._tag}: ${error.message}`)
    return error._tag === "NoSuchAccount" ? EXIT.notFound : EXIT.serverError
  }
  switch (error.reason) {
    case "Connect": {
      const cause = error.cause as
        | { readonly _tag?: string; readonly reason?: string; readonly message?: string }
        | undefined
      const tls = Tls.errorOf(cause)
      if (cause?._tag === "ConnectError" && cause.reason === "Refused") {
        console.error(
          `bank: cannot connect to ${at}: connection refused (is the server running? npm start -- --example bank)`
        )
      } else if (tls !== undefined) {
        console.error(`bank: cannot connect to ${at}: ${tls.message}`)
      } else {
        console.error(`bank: cannot connect to ${at}: ${cause?.message ?? error.message}`)
      }
      return EXIT.noAnswer
    }
    case "Timeout":
    case "PoolTimeout":
      console.error(`bank: no answer from ${at} within ${error.timeout ?? cli.timeout} ms${retryHint(cli)}`)
      return EXIT.noAnswer
    case "Disconnected":
      console.error(`bank: the connection to ${at} was lost${ExampleTls.lostConnectionHint(cli.tls)}${retryHint(cli)}`)
      return EXIT.noAnswer
    case "Decode":
      console.error(`bank: the answer from ${at} could not be read (is it a bank server?): ${error.message}`)
      return EXIT.noAnswer
    case "Remote":
    case "Refused":
      console.error(`bank: the server did not answer the request: ${error.fault?.message ?? error.message}`)
      return EXIT.serverError
    case "Encode":
      console.error(`bank: the request could not be sent: ${error.message}`)
      return EXIT.serverError
  }
}

/** After no answer: whether running the command again is safe. */
const retryHint = (cli: Cli): string => {
  const command = cli.command
  if (command._tag !== "deposit" && command._tag !== "transfer") return ""
  return command.key === undefined
    ? " (it may or may not have been applied; without --key, running it again may apply it twice)"
    : ` (it may or may not have been applied; run it again with --key ${command.key}: it is applied at most once)`
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

const run = (cli: Cli): Effect.Effect<number, never, Transport.Transport> =>
  Effect.gen(function*() {
    const command = cli.command
    const bank = yield* Client.make(Bank.Bank, Address.tcp(cli.host, cli.port), {
      requestTimeout: cli.timeout,
      connection: { timeout: cli.timeout, tls: cli.tls }
    })
    switch (command._tag) {
      case "open":
        yield* bank.request(Bank.Open({ account: command.account }))
        console.log("OK")
        return EXIT.ok
      case "balance":
        console.log(String(yield* bank.request(Bank.Balance({ account: command.account }))))
        return EXIT.ok
      case "deposit": {
        const { account, amount, key } = command
        const r = yield* bank.request(Bank.Deposit(key === undefined ? { account, amount } : { account, amount, key }))
        console.log(`#${r.id} deposit ${r.amount} to ${r.account}: balance ${r.balance}`)
        return EXIT.ok
      }
      case "transfer": {
        const { amount, from, key, to } = command
        const r = yield* bank.request(
          Bank.Transfer(key === undefined ? { from, to, amount } : { from, to, amount, key })
        )
        console.log(
          `#${r.id} transfer ${r.amount} from ${r.from} to ${r.to}: ${r.from} ${r.fromBalance}, ${r.to} ${r.toBalance}`
        )
        return EXIT.ok
      }
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
