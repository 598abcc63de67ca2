/**
 * The bank protocol: accounts holding an integer balance in cents, one
 * `Protocol.method` per operation, each with its own payload, success and
 * typed error schemas, in wirekit's standard JSON envelope, one envelope per
 * frame (4-byte big-endian length + UTF-8 JSON), multiplexed by id.
 *
 * ```
 *   → {"id":1,"request":{"_tag":"Open","account":"alice"}}
 *   ← {"id":1,"success":null}
 *   → {"id":2,"request":{"_tag":"Deposit","account":"alice","amount":10000,"key":"d-1"}}
 *   ← {"id":2,"success":{"id":1,"account":"alice","amount":10000,"balance":10000}}
 *   → {"id":3,"request":{"_tag":"Transfer","from":"alice","to":"bob","amount":3000,"key":"t-1"}}
 *   ← {"id":3,"failure":{"_tag":"NoSuchAccount","account":"bob"}}
 *   → {"id":4,"request":{"_tag":"Transfer","from":"alice","to":"bob","amount":3000,"key":"t-1"}}
 *   ← {"id":4,"failure":{"_tag":"NoSuchAccount","account":"bob"}}     (the first outcome of t-1, replayed)
 * ```
 *
 * Idempotency: `Deposit` and `Transfer` take an optional `key`. The server
 * remembers the outcome of each keyed request (its receipt, or its typed
 * error) and answers a later request with the same key with that outcome,
 * without applying it again: a client that timed out can retry safely. The
 * same key with a different request is a `KeyConflict`. The memory is
 * bounded (see the server's `maxKeys` and `keyTtl`).
 *
 * @since 0.1.0
 */
import { Protocol } from "@wirekit/core"
import { Schema } from "effect"

// ---------------------------------------------------------------------------
// values
// ---------------------------------------------------------------------------

/** Longest account name, in UTF-16 code units. */
export const MAX_ACCOUNT_LENGTH = 64
/** Longest idempotency key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 128

/** An account name: 1 to 64 characters (longer or empty names are a `BadRequest`). */
export const AccountName = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_ACCOUNT_LENGTH))

/** An idempotency key: 1 to 128 characters, chosen by the client (e.g. a UUID). */
export const IdempotencyKey = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_KEY_LENGTH))

/**
 * An amount in cents: a safe integer (`Schema.Int`), so no fraction ever
 * reaches the ledger. Zero or less is refused by the server with
 * `InvalidAmount` (a typed error, not a schema mismatch, so the client
 * learns why).
 */
export const Amount = Schema.Int

/** What `Deposit` answers: the transaction's number and the balance right after it. */
export const DepositReceipt = Schema.Struct({
  /** The transaction number (a retry with the same key answers the same number). */
  id: Schema.Int,
  account: Schema.String,
  amount: Schema.Int,
  /** The balance right after this deposit. */
  balance: Schema.Int
})
/** What `Deposit` answers, as a type. */
export type DepositReceipt = typeof DepositReceipt.Type

/** What `Transfer` answers: the transaction's number and both balances right after it. */
export const Receipt = Schema.Struct({
  /** The transaction number (a retry with the same key answers the same number). */
  id: Schema.Int,
  from: Schema.String,
  to: Schema.String,
  amount: Schema.Int,
  /** `from`'s balance right after this transfer. */
  fromBalance: Schema.Int,
  /** `to`'s balance right after this transfer. */
  toBalance: Schema.Int
})
/** What `Transfer` answers, as a type. */
export type Receipt = typeof Receipt.Type

// ---------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------

/** The paying account holds less than the amount (nothing was moved). */
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  account: Schema.String,
  balance: Schema.Int,
  requested: Schema.Int
}) {
  override get message(): string {
    return `${this.account} holds ${this.balance}, ${this.requested} requested`
  }
}

/** No account has this name. */
export class NoSuchAccount extends Schema.TaggedError<NoSuchAccount>()("NoSuchAccount", { account: Schema.String }) {
  override get message(): string {
    return `no such account: ${this.account}`
  }
}

/** The amount is zero or negative, or the resulting balance would not be a safe integer. */
export class InvalidAmount extends Schema.TaggedError<InvalidAmount>()("InvalidAmount", {
  amount: Schema.Int,
  reason: Schema.String
}) {
  override get message(): string {
    return `invalid amount ${this.amount}: ${this.reason}`
  }
}

/** `Open` of a name that is already an account. */
export class AccountExists extends Schema.TaggedError<AccountExists>()("AccountExists", { account: Schema.String }) {
  override get message(): string {
    return `the account ${this.account} already exists`
  }
}

/** `Open` when the bank holds its maximum number of accounts. */
export class TooManyAccounts extends Schema.TaggedError<TooManyAccounts>()("TooManyAccounts", { max: Schema.Int }) {
  override get message(): string {
    return `the bank holds its maximum of ${this.max} accounts`
  }
}

/** A transfer from an account to itself. */
export class SameAccount extends Schema.TaggedError<SameAccount>()("SameAccount", { account: Schema.String }) {
  override get message(): string {
    return `a transfer from ${this.account} to itself`
  }
}

/** The idempotency key was already used for a different request (nothing was applied). */
export class KeyConflict extends Schema.TaggedError<KeyConflict>()("KeyConflict", { key: Schema.String }) {
  override get message(): string {
    return `the key ${JSON.stringify(this.key)} was used for a different request`
  }
}

/** Every typed error (each method fails with its own subset). */
export type BankError =
  | InsufficientFunds
  | NoSuchAccount
  | InvalidAmount
  | AccountExists
  | TooManyAccounts
  | SameAccount
  | KeyConflict

// ---------------------------------------------------------------------------
// methods
// ---------------------------------------------------------------------------

/** Opens an account with a balance of 0. */
export const Open = Protocol.method("Open", {
  payload: { account: AccountName },
  error: Schema.Union(AccountExists, TooManyAccounts)
})

/** The balance of an account, in cents. */
export const Balance = Protocol.method("Balance", {
  payload: { account: AccountName },
  success: Schema.Int,
  error: NoSuchAccount
})

/** Adds `amount` cents to an account; with a `key`, at most once per key. */
export const Deposit = Protocol.method("Deposit", {
  payload: { account: AccountName, amount: Amount, key: Schema.optional(IdempotencyKey) },
  success: DepositReceipt,
  error: Schema.Union(NoSuchAccount, InvalidAmount, KeyConflict)
})

/**
 * Moves `amount` cents from `from` to `to`, all or nothing; with a `key`, at
 * most once per key.
 */
export const Transfer = Protocol.method("Transfer", {
  payload: { from: AccountName, to: AccountName, amount: Amount, key: Schema.optional(IdempotencyKey) },
  success: Receipt,
  error: Schema.Union(InsufficientFunds, NoSuchAccount, InvalidAmount, SameAccount, KeyConflict)
})

// ---------------------------------------------------------------------------
// the protocol
// ---------------------------------------------------------------------------

/**
 * The bank protocol: its methods multiplexed by id (the default of
 * `Protocol.rpc`) over length-field framing (4-byte big-endian length, 8 MiB
 * max frame).
 *
 * @example
 * ```ts
 * const bank = yield* Client.make(Bank, { host: "127.0.0.1", port: 7003 })
 * yield* bank.request(Open({ account: "alice" }))
 * yield* bank.request(Deposit({ account: "alice", amount: 10_000, key: crypto.randomUUID() }))
 * const receipt = yield* bank.request(Transfer({ from: "alice", to: "bob", amount: 3_000, key }))  // Receipt
 * ```
 */
export const Bank = Protocol.rpc({
  name: "bank",
  methods: [Open, Balance, Deposit, Transfer]
})

/** Every request, as a type. */
export type Request = Protocol.RequestOf<typeof Bank>

/** The default port of the bank example. */
export const DEFAULT_PORT = 7003
