/**
 * The bank server, written once against `@wirekit/core` only: the entry
 * points (main*.ts) pick the runtime.
 *
 * - An in-memory {@link Ledger}: balances in a `Map`, bounded in accounts,
 *   and the remembered outcomes of keyed requests, bounded in number and age.
 * - One handler per method (`ProtocolServer.handlers`), generator methods
 *   made once. Each operation is one synchronous call into the ledger: the
 *   critical section that makes transfers atomic (see {@link Ledger}).
 *
 * @since 0.1.0
 */
import { Address, Middleware, ProtocolServer } from "@wirekit/core"
import type { ProxyProtocol, Tls, Transport } from "@wirekit/core"
import { Clock, Duration, Effect, Exit, Layer, pipe } from "effect"
import type { Scope } from "effect"
import * as Bank from "./Bank.ts"

/** The ledger's limits. */
export interface Limits {
  /** Most accounts held at once (then `Open` fails with `TooManyAccounts`). Default 100 000. */
  readonly maxAccounts: number
  /** Most idempotency keys remembered at once (then the oldest is forgotten). Default 100 000. */
  readonly maxKeys: number
  /** How long an idempotency key is remembered, in ms (by Effect's `Clock`). Default 24 hours. */
  readonly keyTtlMs: number
}

/** Default {@link Limits}. */
export const defaultLimits: Limits = { maxAccounts: 100_000, maxKeys: 100_000, keyTtlMs: 24 * 3600 * 1000 }

/** The largest balance an account can hold (a balance stays a safe integer). */
export const MAX_BALANCE = Number.MAX_SAFE_INTEGER

/** The remembered outcome of a keyed request, with what the request was (to detect a key reused for another request). */
interface Remembered {
  readonly tag: "Deposit" | "Transfer"
  /** The account of a deposit, the payer of a transfer. */
  readonly account: string
  /** The payee of a transfer ("" for a deposit). */
  readonly to: string
  readonly amount: number
  readonly outcome: Exit.Exit<unknown, unknown>
  /** When it was first answered (`Clock` ms). */
  readonly at: number
}

/**
 * The bank's state: balances (cents) and the outcomes of keyed requests.
 *
 * **Atomicity.** The server handles requests concurrently (many connections,
 * many requests in flight on each), so two transfers out of one account may
 * be in progress at once. Every method here is synchronous: it reads the
 * balances, checks them, writes them and records the outcome under its key
 * in one uninterrupted run of JavaScript. Effect fibers only interleave at
 * their yield points (an async boundary, a `yield`, a scheduler hop), and a
 * plain synchronous call has none, so no other request can observe or change
 * the ledger between the check (`balance >= amount`) and the write (debit and
 * credit): that call is the critical section, with no lock to take, no fiber
 * to suspend, and nothing an interruption could cut in half (an interruption
 * lands before the call or after it). A `SynchronizedRef` or a
 * `Semaphore(1)` would be needed as soon as the section had to wait (a
 * database, a journal written before answering); here it would only add cost.
 *
 * **Idempotency.** The key lookup is inside the same critical section, so
 * two requests with one key are never both applied, even when they arrive
 * at once (on one connection or two): the first applies and records its
 * outcome, the second finds it. Remembered outcomes are bounded: at most
 * `maxKeys` (the oldest forgotten first) and each for `keyTtlMs` (by the
 * `Clock` the caller reads, so tests move it with `TestClock`). A retry
 * after its key was forgotten is applied again: keys guard retries, within
 * those bounds.
 */
export class Ledger {
  private readonly balances = new Map<string, number>()
  /** In insertion order, which is the order of `at` (oldest first) while the clock does not go back. */
  private readonly remembered = new Map<string, Remembered>()
  private lastId = 0

  constructor(readonly limits: Limits = defaultLimits) {}

  /** Accounts held. */
  get accounts(): number {
    return this.balances.size
  }

  /** Idempotency keys remembered now (expired ones may linger until the next keyed request). */
  get keys(): number {
    return this.remembered.size
  }

  /** Transactions applied (deposits and transfers that succeeded). */
  get transactions(): number {
    return this.lastId
  }

  /** The sum of every balance. */
  total(): number {
    let sum = 0
    for (const balance of this.balances.values()) sum += balance
    return sum
  }

  /** Opens `account` with a balance of 0. */
  open(account: string): Bank.AccountExists | Bank.TooManyAccounts | undefined {
    if (this.balances.has(account)) return new Bank.AccountExists({ account })
    if (this.balances.size >= this.limits.maxAccounts) return new Bank.TooManyAccounts({ max: this.limits.maxAccounts })
    this.balances.set(account, 0)
    return undefined
  }

  /** The balance of `account`. */
  balance(account: string): number | Bank.NoSuchAccount {
    const balance = this.balances.get(account)
    return balance === undefined ? new Bank.NoSuchAccount({ account }) : balance
  }

  /** Adds `amount` to `account`; with a `key`, at most once per key (`now`: `Clock` ms). */
  deposit(
    account: string,
    amount: number,
    key: string | undefined,
    now: number
  ): Exit.Exit<Bank.DepositReceipt, Bank.NoSuchAccount | Bank.InvalidAmount | Bank.KeyConflict> {
    return this.once(key, "Deposit", account, "", amount, now, () => this.applyDeposit(account, amount))
  }

  /** Moves `amount` from `from` to `to`, all or nothing; with a `key`, at most once per key (`now`: `Clock` ms). */
  transfer(
    from: string,
    to: string,
    amount: number,
    key: string | undefined,
    now: number
  ): Exit.Exit<
    Bank.Receipt,
    Bank.InsufficientFunds | Bank.NoSuchAccount | Bank.InvalidAmount | Bank.SameAccount | Bank.KeyConflict
  > {
    return this.once(key, "Transfer", from, to, amount, now, () => this.applyTransfer(from, to, amount))
  }

  private applyDeposit(
    account: string,
    amount: number
  ): Exit.Exit<Bank.DepositReceipt, Bank.NoSuchAccount | Bank.InvalidAmount> {
    if (amount <= 0) return Exit.fail(new Bank.InvalidAmount({ amount, reason: "an amount must be positive" }))
    const balance = this.balances.get(account)
    if (balance === undefined) return Exit.fail(new Bank.NoSuchAccount({ account }))
    if (balance > MAX_BALANCE - amount) return Exit.fail(tooLarge(account, amount))
    this.balances.set(account, balance + amount)
    return Exit.succeed({ id: ++this.lastId, account, amount, balance: balance + amount })
  }

  private applyTransfer(
    from: string,
    to: string,
    amount: number
  ): Exit.Exit<Bank.Receipt, Bank.InsufficientFunds | Bank.NoSuchAccount | Bank.InvalidAmount | Bank.SameAccount> {
    if (amount <= 0) return Exit.fail(new Bank.InvalidAmount({ amount, reason: "an amount must be positive" }))
    if (from === to) return Exit.fail(new Bank.SameAccount({ account: from }))
    const fromBalance = this.balances.get(from)
    if (fromBalance === undefined) return Exit.fail(new Bank.NoSuchAccount({ account: from }))
    const toBalance = this.balances.get(to)
    if (toBalance === undefined) return Exit.fail(new Bank.NoSuchAccount({ account: to }))
    if (fromBalance < amount) {
      return Exit.fail(new Bank.InsufficientFunds({ account: from, balance: fromBalance, requested: amount }))
    }
    if (toBalance > MAX_BALANCE - amount) return Exit.fail(tooLarge(to, amount))
    // check, debit and credit with nothing in between: see the class comment
    this.balances.set(from, fromBalance - amount)
    this.balances.set(to, toBalance + amount)
    return Exit.succeed({
      id: ++this.lastId,
      from,
      to,
      amount,
      fromBalance: fromBalance - amount,
      toBalance: toBalance + amount
    })
  }

  /**
   * Runs `apply` unless `key` has a remembered outcome (then answers that
   * one, or `KeyConflict` if the key was used for another request), and
   * remembers its outcome, success or typed error, under `key`.
   */
  private once<A, E>(
    key: string | undefined,
    tag: Remembered["tag"],
    account: string,
    to: string,
    amount: number,
    now: number,
    apply: () => Exit.Exit<A, E>
  ): Exit.Exit<A, E | Bank.KeyConflict> {
    if (key === undefined) return apply()
    this.expire(now)
    const seen = this.remembered.get(key)
    if (seen !== undefined && seen.at + this.limits.keyTtlMs > now) {
      return seen.tag === tag && seen.account === account && seen.to === to && seen.amount === amount
        ? (seen.outcome as Exit.Exit<A, E>)
        : Exit.fail(new Bank.KeyConflict({ key }))
    }
    const outcome = apply()
    // re-inserted: a key that had expired moves to the end (the newest)
    this.remembered.delete(key)
    this.remembered.set(key, { tag, account, to, amount, outcome, at: now })
    if (this.remembered.size > this.limits.maxKeys) this.remembered.delete(this.remembered.keys().next().value!)
    return outcome
  }

  /** Forgets the keys whose time is up, oldest first (stops at the first one still valid). */
  private expire(now: number): void {
    for (const [key, seen] of this.remembered) {
      if (seen.at + this.limits.keyTtlMs > now) return
      this.remembered.delete(key)
    }
  }
}

const tooLarge = (account: string, amount: number) =>
  new Bank.InvalidAmount({ amount, reason: `the balance of ${account} would pass ${MAX_BALANCE}` })

/** Options of the request handler. */
export interface HandlerOptions {
  /**
   * How long `Deposit` and `Transfer` wait after they are applied before
   * answering: a slow link, or a slow journal, to try retries by hand (a
   * client whose timeout is shorter gives up, its retry gets the first
   * outcome). Default 0.
   */
  readonly replyDelay?: Duration.DurationInput | undefined
}

/**
 * The request handler over `ledger`: each method reads the clock if it has
 * a key, then makes one synchronous call into the ledger (the critical
 * section), then answers its outcome (after `replyDelay`, if any).
 *
 * @example
 * ```ts
 * const server = yield* ProtocolServer.serve(Bank.Bank, handler(new Ledger()), { address: Address.tcp("127.0.0.1", 0) })
 * ```
 */
export const handler = (ledger: Ledger, options: HandlerOptions = {}) => {
  const delay = Duration.decode(options.replyDelay ?? 0)
  const delayed = Duration.greaterThan(delay, Duration.zero)
  return ProtocolServer.handlers(Bank.Bank, {
    Open: ({ account }) => {
      const error = ledger.open(account)
      return error === undefined ? Effect.void : Effect.fail(error)
    },
    Balance: ({ account }) => {
      const balance = ledger.balance(account)
      return typeof balance === "number" ? Effect.succeed(balance) : Effect.fail(balance)
    },
    *Deposit({ account, amount, key }) {
      // the clock is read before the critical section (reading it is an Effect), only when it matters
      const now = key === undefined ? 0 : yield* Clock.currentTimeMillis
      const outcome = ledger.deposit(account, amount, key, now)
      if (delayed) yield* Effect.sleep(delay)
      return yield* outcome
    },
    *Transfer({ amount, from, key, to }) {
      const now = key === undefined ? 0 : yield* Clock.currentTimeMillis
      const outcome = ledger.transfer(from, to, amount, key, now)
      // interrupted here (the client gave up, the connection dropped), the transfer stays applied and
      // its outcome stays remembered: the client's retry with the same key gets it
      if (delayed) yield* Effect.sleep(delay)
      return yield* outcome
    }
  })
}

/** Options of the bank server. */
export interface BankOptions extends Partial<Limits>, HandlerOptions {
  readonly host: string
  readonly port: number
  /** Requests in flight per connection before reading pauses. Default 256. */
  readonly maxInFlight?: number | undefined
  /** Serve TLS with these options (plain TCP when absent). */
  readonly tls?: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers (`--proxy-protocol`); absent: clients connect directly. */
  readonly proxyProtocol?: ProxyProtocol.Options | undefined
}

/** The most a request may take (then a `Timeout` fault), on top of `replyDelay`. */
const REQUEST_TIMEOUT = Duration.seconds(5)

/**
 * Serves the bank on `host:port` with a fresh ledger until the scope closes
 * (graceful shutdown: requests in flight are answered, for up to 10 s).
 *
 * @example
 * ```ts
 * const { server, ledger } = yield* BankServer.serve({ host: "127.0.0.1", port: 0 })
 * ```
 */
export const serve = (
  options: BankOptions
): Effect.Effect<
  { readonly server: ProtocolServer.ProtocolServer<never>; readonly ledger: Ledger },
  Transport.ListenError,
  Transport.Transport | Scope.Scope
> => {
  const ledger = new Ledger({
    maxAccounts: options.maxAccounts ?? defaultLimits.maxAccounts,
    maxKeys: options.maxKeys ?? defaultLimits.maxKeys,
    keyTtlMs: options.keyTtlMs ?? defaultLimits.keyTtlMs
  })
  const timeout = Duration.sum(REQUEST_TIMEOUT, options.replyDelay ?? 0)
  return Effect.map(
    ProtocolServer.serve(Bank.Bank, pipe(handler(ledger, options), Middleware.timeout(timeout)), {
      address: Address.tcp(options.host, options.port),
      maxInFlight: options.maxInFlight,
      // the server's own limit, behind the middleware's (which answers first, with a Timeout fault)
      requestTimeout: Duration.sum(timeout, Duration.seconds(1)),
      tls: options.tls,
      proxyProtocol: options.proxyProtocol
    }),
    (server) => ({ server, ledger })
  )
}

/**
 * The bank server as a Layer (needs a Transport): listens when built, logs
 * `bank: listening on HOST:PORT` (`... with TLS` when it serves TLS), shuts
 * down gracefully when released.
 *
 * @example
 * ```ts
 * Layer.launch(BankServer.layer({ host: "127.0.0.1", port: 7003 })).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
 * ```
 */
export const layer = (options: BankOptions): Layer.Layer<never, Transport.ListenError, Transport.Transport> =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const { ledger, server } = yield* serve(options)
      const address = server.address
      const limits = ledger.limits
      const port = Address.isTcp(address) ? address.port : Bank.DEFAULT_PORT
      const delay = Duration.toMillis(options.replyDelay ?? 0)
      const tls = options.tls
      const mode = tls === undefined ? "" : tls.requestCert ? " with TLS (client certificates required)" : " with TLS"
      const tlsFlags = tls === undefined ? "" : tls.requestCert ? " --tls --tls-cert CERT --tls-key KEY" : " --tls"
      yield* Effect.logInfo(
        `bank: listening on ${
          Address.format(address)
        }${mode} (max accounts ${limits.maxAccounts}, max keys ${limits.maxKeys}, ` +
          `key TTL ${Math.round(limits.keyTtlMs / 1000)} s${delay > 0 ? `, reply delay ${delay} ms` : ""}); ` +
          `try: node examples/bank/dist/cli.js --port ${port}${tlsFlags} open alice`
      )
    })
  )
