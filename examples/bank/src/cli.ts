/**
 * The bank command-line client (Node), a typed wirekit `Client` of {@link Bank.Bank}:
 *
 * ```sh
 * node examples/bank/dist/cli.js [--host 127.0.0.1] [--port 7003] [--timeout 5000] [--tls ...] COMMAND
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
 * flag implies `--tls` (see `ExampleFlags` in examples/common). `--help`
 * (after a command: `bank deposit --help`) describes every flag.
 *
 * Exit status: 0 done, 1 no such account, 2 usage (or an unreadable
 * certificate file), 3 the server answered with another error (e.g.
 * `InsufficientFunds`), 4 no answer (cannot connect, TLS handshake refused,
 * connection lost, request timeout). Messages go to stderr.
 *
 * @since 0.1.0
 */
import { Args, Command as Cli, HelpDoc, Options } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Address, Client, Tls } from "@wirekit/core"
import { ExampleCli, ExampleFlags } from "@wirekit/example-common"
import { NodeTransport } from "@wirekit/node"
import { Effect, Option } from "effect"
import * as Bank from "./Bank.ts"

// ---------------------------------------------------------------------------
// arguments
// ---------------------------------------------------------------------------

const USAGE =
  `bank [--host 127.0.0.1] [--port ${Bank.DEFAULT_PORT}] [--timeout MS] [--tls [--tls-ca PATH] [--tls-cert PATH --tls-key PATH]] COMMAND
  open ACCOUNT                       open an account (balance 0); prints OK
  balance ACCOUNT                    print the balance, in cents
  deposit [--key K] ACCOUNT AMOUNT   add AMOUNT cents; prints the receipt
  transfer [--key K] FROM TO AMOUNT  move AMOUNT cents; prints the receipt
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

/** A positional argument checked by `check` (a message when refused). */
const arg = <A>(name: string, check: (text: string) => { readonly value: A } | string) =>
  Args.text({ name }).pipe(Args.mapEffect((text) => {
    const result = check(text)
    return typeof result === "string" ? Effect.fail(HelpDoc.p(result)) : Effect.succeed(result.value)
  }))

/** An account name as the protocol takes it (1 to 64 characters). */
const account = (name: string) =>
  arg(name, (text) =>
    text.length >= 1 && text.length <= Bank.MAX_ACCOUNT_LENGTH
      ? { value: text }
      : `${name}: an account name has 1 to ${Bank.MAX_ACCOUNT_LENGTH} characters (got ${text.length})`)

/** An amount in cents: any safe integer (the server refuses zero and negative ones, with InvalidAmount). */
const amount = arg("AMOUNT", (text) => {
  const n = Number(text)
  return /^-?\d+$/.test(text) && Number.isSafeInteger(n)
    ? { value: n }
    : `AMOUNT (cents) must be an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (got ${text})`
})

/** `--key K`: apply a deposit or transfer at most once for K. */
const key = Options.text("key").pipe(
  Options.withPseudoName("K"),
  Options.withDescription("Apply the request at most once for this key: a retry prints the first outcome."),
  Options.optional,
  Options.mapEffect(Option.match({
    onNone: () => Effect.succeed(undefined),
    onSome: (key) =>
      key.length >= 1 && key.length <= Bank.MAX_KEY_LENGTH
        ? Effect.succeed(key)
        : Effect.fail(
          ExampleFlags.invalid(`--key has 1 to ${Bank.MAX_KEY_LENGTH} characters (got ${key.length})`)
        )
  }))
)

/** The flags before the command. */
const bank = Cli.make("bank", {
  host: ExampleFlags.host,
  port: ExampleFlags.port(Bank.DEFAULT_PORT, 1),
  timeout: ExampleFlags.integer("timeout", { min: 1, max: 3_600_000, pseudoName: "MS" }).pipe(
    Options.withDescription("How long to wait for a connection and for the answer, in ms; default 5000."),
    Options.withDefault(5000)
  ),
  tls: ExampleFlags.clientTls
}).pipe(
  Cli.withDescription("The bank client: one command per run."),
  Cli.withHandler(() => Effect.fail(ExampleFlags.invalid("no command")))
)

/** Runs `command` with the flags before it, and exits with its status. */
const execute = (command: Command) =>
  Effect.flatMap(bank, (flags) => run({ ...flags, command })).pipe(
    Effect.flatMap((status) => status === EXIT.ok ? Effect.void : ExampleCli.exit(status))
  )

const command = bank.pipe(Cli.withSubcommands([
  Cli.make("open", { account: account("ACCOUNT") }, ({ account }) => execute({ _tag: "open", account })).pipe(
    Cli.withDescription("Open an account (balance 0); prints OK.")
  ),
  Cli.make("balance", { account: account("ACCOUNT") }, ({ account }) => execute({ _tag: "balance", account })).pipe(
    Cli.withDescription("Print the balance, in cents.")
  ),
  Cli.make(
    "deposit",
    { key, account: account("ACCOUNT"), amount },
    ({ account, amount, key }) => execute({ _tag: "deposit", account, amount, key })
  ).pipe(Cli.withDescription("Add AMOUNT cents; prints the receipt.")),
  Cli.make(
    "transfer",
    { key, from: account("FROM"), to: account("TO"), amount },
    ({ amount, from, key, to }) => execute({ _tag: "transfer", from, to, amount, key })
  ).pipe(Cli.withDescription("Move AMOUNT cents; prints the receipt."))
]))

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
      console.error(
        `bank: the connection to ${at} was lost${ExampleFlags.lostConnectionHint(cli.tls)}${retryHint(cli)}`
      )
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

const run = (cli: Cli): Effect.Effect<number> =>
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
    Effect.scoped,
    Effect.provide(NodeTransport.layer)
  )

// Ctrl-C: 130
ExampleCli.run(command, { context: NodeContext.layer, runMain: NodeRuntime.runMain }, {
  name: "bank",
  usage: USAGE,
  interrupted: 130
})
