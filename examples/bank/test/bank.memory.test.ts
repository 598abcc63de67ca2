/**
 * The bank server in process, on the in-memory transport: the wire format,
 * balances and typed errors, atomic concurrent transfers, and idempotency
 * keys (concurrent duplicates, retries after a client timeout, the bounds on
 * remembered keys by count and by age with `TestClock`).
 */
import { describe, it } from "@effect/vitest"
import {
  Address,
  Client,
  Connection,
  Framed,
  LengthField,
  MemoryTransport,
  ProtocolServer,
  Transport
} from "@wirekit/core"
import { Duration, Effect, Either, Layer, Logger, LogLevel, TestClock } from "effect"
import { expect } from "vitest"
import * as Bank from "../src/Bank.ts"
import * as BankServer from "../src/Server.ts"

/** An isolated in-memory network, with Info logs silenced. */
const network = Layer.merge(MemoryTransport.layer(), Logger.minimumLogLevel(LogLevel.Warning))

const within = (ms: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, {
    duration: Duration.millis(ms),
    onTimeout: () => new Error(`still running after ${ms}ms`)
  })

const utf8 = new TextEncoder()
const text = new TextDecoder()

type Handler = ReturnType<typeof BankServer.handler>

/**
 * Serves `ledger` with `wrap` around its handler: a test's way to make the
 * server slow before the ledger is touched (so that requests are really in
 * flight together, or so that a client gives up before anything is applied).
 */
const serveWrapped = (ledger: BankServer.Ledger, wrap: (handler: Handler) => Handler) =>
  ProtocolServer.serve(Bank.Bank, wrap(BankServer.handler(ledger)), { address: Address.tcp("127.0.0.1", 0) })

/** `handler`, after `delay(request)` ms (before the ledger is touched). */
const delayedBy = (delay: (request: Bank.Request) => number) => (handler: Handler): Handler => (request, context) =>
  Effect.zipRight(Effect.sleep(Duration.millis(delay(request))), handler(request, context))

/** A small deterministic pseudo-random generator (xorshift32). */
const random = (seed: number) => () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 0x100000000
}

describe("bank on the memory transport", () => {
  it.scopedLive("on the wire: one envelope per frame; a keyed deposit sent twice is answered twice with the first receipt; schema mismatches are BadRequest faults", () =>
    Effect.gen(function*() {
      const { ledger, server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0 })
      const transport = yield* Transport.Transport
      const conn = yield* transport.connect(server.address, { timeout: 2000 })
      const framed = Framed.make(conn, LengthField.make({ fieldLength: 4 }))
      const send = (id: number, request: unknown) => framed.send(utf8.encode(JSON.stringify({ id, request })))
      const read = Effect.map(framed.read, (f) => (f === Connection.EOF ? "EOF" : JSON.parse(text.decode(f))))

      yield* send(1, { _tag: "Open", account: "alice" })
      expect(yield* read.pipe(within(1000))).toEqual({ id: 1, success: null })
      yield* send(2, { _tag: "Deposit", account: "alice", amount: 10_000, key: "d-1" })
      expect(yield* read.pipe(within(1000))).toEqual({
        id: 2,
        success: { id: 1, account: "alice", amount: 10_000, balance: 10_000 }
      })
      yield* send(3, { _tag: "Deposit", account: "alice", amount: 10_000, key: "d-1" })
      expect(yield* read.pipe(within(1000))).toEqual({
        id: 3,
        success: { id: 1, account: "alice", amount: 10_000, balance: 10_000 }
      })
      yield* send(4, { _tag: "Transfer", from: "alice", to: "bob", amount: 3000, key: "t-1" })
      expect(yield* read.pipe(within(1000))).toEqual({ id: 4, failure: { _tag: "NoSuchAccount", account: "bob" } })
      yield* send(5, { _tag: "Balance", account: "alice" })
      expect(yield* read.pipe(within(1000))).toEqual({ id: 5, success: 10_000 })
      // not an integer number of cents, an empty name, a name over 64 characters: refused before the handler
      yield* send(6, { _tag: "Deposit", account: "alice", amount: 1.5 })
      yield* send(7, { _tag: "Open", account: "" })
      yield* send(8, { _tag: "Open", account: "a".repeat(65) })
      for (const id of [6, 7, 8]) {
        const answer = yield* read.pipe(within(1000))
        expect([answer.id, answer.fault?.reason]).toEqual([id, "BadRequest"])
      }
      expect(ledger.accounts).toBe(1)
      expect(ledger.transactions).toBe(1)
      expect(ledger.total()).toBe(10_000)
    }).pipe(Effect.provide(network)))

  it.scopedLive("balances, deposits and transfers with the typed client; every typed error arrives as its class, and changes nothing", () =>
    Effect.gen(function*() {
      const { ledger, server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0, maxAccounts: 3 })
      const bank = yield* Client.make(Bank.Bank, server.address, { requestTimeout: "2 seconds" })
      const opened: void = yield* bank.request(Bank.Open({ account: "alice" }))
      expect(opened).toBe(undefined)
      yield* bank.request(Bank.Open({ account: "bob" }))
      const zero: number = yield* bank.request(Bank.Balance({ account: "bob" }))
      expect(zero).toBe(0)
      const deposit: Bank.DepositReceipt = yield* bank.request(Bank.Deposit({ account: "alice", amount: 10_000 }))
      expect(deposit).toEqual({ id: 1, account: "alice", amount: 10_000, balance: 10_000 })
      const receipt: Bank.Receipt = yield* bank.request(Bank.Transfer({ from: "alice", to: "bob", amount: 2_550 }))
      expect(receipt).toEqual({ id: 2, from: "alice", to: "bob", amount: 2_550, fromBalance: 7_450, toBalance: 2_550 })
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(7_450)
      expect(yield* bank.request(Bank.Balance({ account: "bob" }))).toBe(2_550)

      const insufficient = yield* Effect.flip(bank.request(Bank.Transfer({ from: "bob", to: "alice", amount: 2_551 })))
      expect(insufficient).toBeInstanceOf(Bank.InsufficientFunds)
      expect(insufficient).toMatchObject({ account: "bob", balance: 2_550, requested: 2_551 })
      expect(insufficient.message).toBe("bob holds 2550, 2551 requested")

      const noPayer = yield* Effect.flip(bank.request(Bank.Transfer({ from: "carol", to: "bob", amount: 1 })))
      expect(noPayer).toBeInstanceOf(Bank.NoSuchAccount)
      expect(noPayer).toMatchObject({ account: "carol" })
      const noPayee = yield* Effect.flip(bank.request(Bank.Transfer({ from: "alice", to: "dave", amount: 1 })))
      expect(noPayee).toMatchObject({ _tag: "NoSuchAccount", account: "dave" })
      expect(yield* Effect.flip(bank.request(Bank.Balance({ account: "erin" })))).toMatchObject({
        _tag: "NoSuchAccount",
        account: "erin"
      })
      expect(yield* Effect.flip(bank.request(Bank.Deposit({ account: "erin", amount: 5 })))).toBeInstanceOf(
        Bank.NoSuchAccount
      )

      for (const amount of [0, -100]) {
        const invalid = yield* Effect.flip(bank.request(Bank.Transfer({ from: "alice", to: "bob", amount })))
        expect(invalid).toBeInstanceOf(Bank.InvalidAmount)
        expect(invalid).toMatchObject({ amount, reason: "an amount must be positive" })
        expect(yield* Effect.flip(bank.request(Bank.Deposit({ account: "alice", amount })))).toBeInstanceOf(
          Bank.InvalidAmount
        )
      }
      // a balance stays a safe integer
      const overflow = yield* Effect.flip(
        bank.request(Bank.Deposit({ account: "alice", amount: Number.MAX_SAFE_INTEGER }))
      )
      expect(overflow).toMatchObject({
        _tag: "InvalidAmount",
        reason: `the balance of alice would pass ${Number.MAX_SAFE_INTEGER}`
      })

      expect(yield* Effect.flip(bank.request(Bank.Transfer({ from: "alice", to: "alice", amount: 1 })))).toBeInstanceOf(
        Bank.SameAccount
      )
      expect(yield* Effect.flip(bank.request(Bank.Open({ account: "alice" })))).toBeInstanceOf(Bank.AccountExists)
      yield* bank.request(Bank.Open({ account: "carol" }))
      const full = yield* Effect.flip(bank.request(Bank.Open({ account: "dave" })))
      expect(full).toBeInstanceOf(Bank.TooManyAccounts)
      expect(full).toMatchObject({ max: 3 })

      // the typed client checks the payload with the same schema: a fraction of a cent is not even sent
      const fraction = yield* Effect.flip(bank.request(Bank.Deposit({ account: "alice", amount: 0.5 })))
      expect(fraction).toBeInstanceOf(Client.ClientError)
      expect((fraction as Client.ClientError).reason).toBe("Encode")

      // none of the failures moved money or counted as a transaction
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(7_450)
      expect(yield* bank.request(Bank.Balance({ account: "bob" }))).toBe(2_550)
      expect(ledger.transactions).toBe(2)
      expect(ledger.total()).toBe(10_000)
      expect(ledger.keys).toBe(0) // no request had a key
    }).pipe(Effect.provide(network)))

  it.scopedLive("200 concurrent transfers between 3 accounts (3 connections, handlers interleaved): the total stays constant, no balance goes below 0, and the receipts replay in order", () =>
    Effect.gen(function*() {
      const ledger = new BankServer.Ledger()
      const next = random(42)
      // 0..4 ms before each request touches the ledger: the 200 requests really are in progress together
      const server = yield* serveWrapped(ledger, delayedBy(() => Math.floor(next() * 5)))
      const bank = yield* Client.make(Bank.Bank, server.address, { requestTimeout: "10 seconds", pool: { size: 3 } })
      const accounts = ["alice", "bob", "carol"] as const
      for (const account of accounts) {
        yield* bank.request(Bank.Open({ account }))
        yield* bank.request(Bank.Deposit({ account, amount: 1_000 }))
      }
      const pick = random(7)
      const transfers = Array.from({ length: 200 }, () => {
        const from = Math.floor(pick() * 3)
        const to = (from + 1 + Math.floor(pick() * 2)) % 3
        return { from: accounts[from]!, to: accounts[to]!, amount: 1 + Math.floor(pick() * 600) }
      })
      const results = yield* Effect.forEach(transfers, (t) => Effect.either(bank.request(Bank.Transfer(t))), {
        concurrency: "unbounded"
      })
      const receipts = results.flatMap((r) => (Either.isRight(r) ? [r.right] : []))
      const refused = results.flatMap((r) => (Either.isLeft(r) ? [r.left] : []))
      // every failure is InsufficientFunds, reported with the balance the payer really had
      for (const error of refused) expect(error).toBeInstanceOf(Bank.InsufficientFunds)
      expect(receipts.length).toBeGreaterThan(0)
      expect(refused.length).toBeGreaterThan(0)
      expect(receipts.length + refused.length).toBe(200)
      expect(server.stats().forked).toBeGreaterThanOrEqual(200) // each waited: they overlapped

      // the same money, none below zero
      const balances = yield* Effect.forEach(accounts, (account) => bank.request(Bank.Balance({ account })))
      expect(balances.reduce((a, b) => a + b, 0)).toBe(3_000)
      for (const balance of balances) expect(balance).toBeGreaterThanOrEqual(0)
      expect(ledger.total()).toBe(3_000)

      // serializable: applying the receipts one by one in transaction order, from the starting
      // balances, gives each receipt's own balances and ends at the final ones
      const replay = new Map<string, number>(accounts.map((a) => [a, 1_000]))
      const ordered = [...receipts].sort((a, b) => a.id - b.id)
      expect(ordered.map((r) => r.id)).toEqual(ordered.map((_, i) => i + 4)) // 1..3 were the deposits
      for (const r of ordered) {
        replay.set(r.from, replay.get(r.from)! - r.amount)
        replay.set(r.to, replay.get(r.to)! + r.amount)
        expect([r.fromBalance, r.toBalance]).toEqual([replay.get(r.from), replay.get(r.to)])
        expect(r.fromBalance).toBeGreaterThanOrEqual(0)
      }
      expect(accounts.map((a) => replay.get(a))).toEqual(balances)
    }).pipe(Effect.provide(network)))

  it.scopedLive("one key sent twice at once (two connections, both requests in progress together): applied once, both answered with the same receipt", () =>
    Effect.gen(function*() {
      const ledger = new BankServer.Ledger()
      const server = yield* serveWrapped(ledger, delayedBy(() => 50))
      const one = yield* Client.make(Bank.Bank, server.address)
      const two = yield* Client.make(Bank.Bank, server.address)
      yield* one.request(Bank.Open({ account: "alice" }))
      yield* one.request(Bank.Open({ account: "bob" }))
      yield* one.request(Bank.Deposit({ account: "alice", amount: 100 }))

      const transfer = Bank.Transfer({ from: "alice", to: "bob", amount: 30, key: "t-42" })
      const [a, b] = yield* Effect.all([one.request(transfer), two.request(transfer)], { concurrency: 2 })
      expect(a).toEqual({ id: 2, from: "alice", to: "bob", amount: 30, fromBalance: 70, toBalance: 30 })
      expect(b).toEqual(a)
      expect(yield* one.request(Bank.Balance({ account: "alice" }))).toBe(70)
      expect(ledger.transactions).toBe(2)

      // and a deposit key sent 10 times at once: once
      const deposit = Bank.Deposit({ account: "bob", amount: 5, key: "d-7" })
      const answers = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).request(deposit)),
        {
          concurrency: "unbounded"
        }
      )
      expect(new Set(answers.map((r) => JSON.stringify(r))).size).toBe(1)
      expect(answers[0]).toEqual({ id: 3, account: "bob", amount: 5, balance: 35 })
      expect(yield* one.request(Bank.Balance({ account: "bob" }))).toBe(35)
      expect(ledger.keys).toBe(2)

      // the same key with another request: KeyConflict, nothing applied
      const conflict = yield* Effect.flip(
        one.request(Bank.Transfer({ from: "alice", to: "bob", amount: 31, key: "t-42" }))
      )
      expect(conflict).toBeInstanceOf(Bank.KeyConflict)
      expect(conflict).toMatchObject({ key: "t-42" })
      expect(yield* Effect.flip(one.request(Bank.Deposit({ account: "alice", amount: 30, key: "t-42" }))))
        .toBeInstanceOf(Bank.KeyConflict)
      expect(ledger.transactions).toBe(3)
      expect(ledger.total()).toBe(105)
    }).pipe(Effect.provide(network)))

  it.scopedLive("a retry after the client timed out, the transfer already applied (the answer was slow): the retry gets the first receipt, nothing applied twice", () =>
    Effect.gen(function*() {
      // every Deposit and Transfer answers 300 ms after it is applied
      const { ledger, server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0, replyDelay: 300 })
      const bank = yield* Client.make(Bank.Bank, server.address)
      yield* bank.request(Bank.Open({ account: "alice" }))
      yield* bank.request(Bank.Open({ account: "bob" }))
      yield* bank.request(Bank.Deposit({ account: "alice", amount: 100, key: "d-1" }))

      const transfer = Bank.Transfer({ from: "alice", to: "bob", amount: 30, key: "t-1" })
      const timedOut = yield* Effect.flip(bank.request(transfer, { timeout: "50 millis" }))
      expect(timedOut).toBeInstanceOf(Client.ClientError)
      expect((timedOut as Client.ClientError).reason).toBe("Timeout")
      // the server had applied it (Balance answers at once)...
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(70)
      // ...and the client's cancel interrupted the handler while it waited to answer
      for (let i = 0; i < 100 && server.stats().cancelled === 0; i++) yield* Effect.sleep("10 millis")
      expect(server.stats().cancelled).toBe(1)

      // the retry, on a new connection (as a restarted client would): the first outcome
      const again = yield* Client.make(Bank.Bank, server.address)
      const receipt = yield* again.request(transfer)
      expect(receipt).toEqual({ id: 2, from: "alice", to: "bob", amount: 30, fromBalance: 70, toBalance: 30 })
      expect(yield* again.request(transfer)).toEqual(receipt)
      expect(yield* again.request(Bank.Balance({ account: "alice" }))).toBe(70)
      expect(yield* again.request(Bank.Balance({ account: "bob" }))).toBe(30)
      expect(ledger.transactions).toBe(2)
    }).pipe(Effect.provide(network)))

  it.scopedLive("a retry after the client timed out before anything was applied (the server was slow to start): applied by the retry, once", () =>
    Effect.gen(function*() {
      const ledger = new BankServer.Ledger()
      let slow = true
      // the first Transfer waits 300 ms before it reaches the ledger; the client gives up after 50
      const server = yield* serveWrapped(
        ledger,
        delayedBy((request) => {
          if (request._tag !== "Transfer" || !slow) return 0
          slow = false
          return 300
        })
      )
      const bank = yield* Client.make(Bank.Bank, server.address)
      yield* bank.request(Bank.Open({ account: "alice" }))
      yield* bank.request(Bank.Open({ account: "bob" }))
      yield* bank.request(Bank.Deposit({ account: "alice", amount: 100 }))

      const transfer = Bank.Transfer({ from: "alice", to: "bob", amount: 30, key: "t-1" })
      const timedOut = yield* Effect.flip(bank.request(transfer, { timeout: "50 millis" }))
      expect((timedOut as Client.ClientError).reason).toBe("Timeout")
      // cancelled before the ledger: nothing applied, nothing remembered, even once the 300 ms have passed
      yield* Effect.sleep("400 millis")
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(100)
      expect(ledger.keys).toBe(0)

      const receipt = yield* bank.request(transfer)
      expect(receipt).toEqual({ id: 2, from: "alice", to: "bob", amount: 30, fromBalance: 70, toBalance: 30 })
      expect(yield* bank.request(transfer)).toEqual(receipt)
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(70)
      expect(ledger.transactions).toBe(2)
    }).pipe(Effect.provide(network)))

  it.scopedLive("a typed error is an outcome too: a retry gets it again, even once the cause is gone (a new attempt takes a new key)", () =>
    Effect.gen(function*() {
      const { server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0 })
      const bank = yield* Client.make(Bank.Bank, server.address)
      yield* bank.request(Bank.Open({ account: "alice" }))
      const transfer = Bank.Transfer({ from: "alice", to: "bob", amount: 30, key: "t-1" })
      expect(yield* Effect.flip(bank.request(transfer))).toMatchObject({ _tag: "NoSuchAccount", account: "bob" })
      yield* bank.request(Bank.Open({ account: "bob" }))
      yield* bank.request(Bank.Deposit({ account: "alice", amount: 100 }))
      expect(yield* Effect.flip(bank.request(transfer))).toMatchObject({ _tag: "NoSuchAccount", account: "bob" })
      expect(yield* bank.request(Bank.Transfer({ from: "alice", to: "bob", amount: 30, key: "t-2" }))).toMatchObject({
        toBalance: 30
      })
    }).pipe(Effect.provide(network)))

  it.scopedLive("remembered keys are bounded by count (--max-keys): the oldest is forgotten first, and a retry with it applies again", () =>
    Effect.gen(function*() {
      const { ledger, server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0, maxKeys: 3 })
      const bank = yield* Client.make(Bank.Bank, server.address)
      yield* bank.request(Bank.Open({ account: "alice" }))
      const deposit = (key: string) => bank.request(Bank.Deposit({ account: "alice", amount: 1, key }))
      for (const key of ["k1", "k2", "k3", "k4"]) yield* deposit(key)
      expect(ledger.keys).toBe(3)
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(4)
      // k2..k4 are remembered: replayed, nothing added
      expect(yield* deposit("k2")).toEqual({ id: 2, account: "alice", amount: 1, balance: 2 })
      expect(yield* deposit("k4")).toEqual({ id: 4, account: "alice", amount: 1, balance: 4 })
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(4)
      // k1 was the oldest: forgotten, so its retry is a new deposit (and now k2 is forgotten)
      expect(yield* deposit("k1")).toEqual({ id: 5, account: "alice", amount: 1, balance: 5 })
      expect(ledger.keys).toBe(3)
      expect(yield* deposit("k2")).toMatchObject({ id: 6, balance: 6 })
      expect(yield* deposit("k4")).toMatchObject({ id: 4, balance: 4 })
      // keyed or not, no request waited for anything: each was answered without a fiber
      expect(server.stats().forked).toBe(0)
      expect(server.stats().inlined).toBe(12)
    }).pipe(Effect.provide(network)))

  it.scoped("remembered keys expire after --key-ttl, by Effect's Clock (TestClock here)", () =>
    Effect.gen(function*() {
      const { ledger, server } = yield* BankServer.serve({ host: "127.0.0.1", port: 0, keyTtlMs: 60_000 })
      const bank = yield* Client.make(Bank.Bank, server.address, { requestTimeout: Duration.infinity })
      yield* bank.request(Bank.Open({ account: "alice" }))
      const deposit = (key: string) => bank.request(Bank.Deposit({ account: "alice", amount: 10, key }))
      expect(yield* deposit("a")).toMatchObject({ id: 1, balance: 10 })
      yield* TestClock.adjust("30 seconds")
      expect(yield* deposit("b")).toMatchObject({ id: 2, balance: 20 })
      yield* TestClock.adjust(Duration.millis(29_999))
      // 59.999 s after "a": still remembered
      expect(yield* deposit("a")).toMatchObject({ id: 1, balance: 10 })
      expect(ledger.keys).toBe(2)
      yield* TestClock.adjust(Duration.millis(1))
      // 60 s after "a": forgotten (and swept), its retry is a new deposit; "b" is still remembered
      expect(yield* deposit("a")).toMatchObject({ id: 3, balance: 30 })
      expect(yield* deposit("b")).toMatchObject({ id: 2, balance: 20 })
      expect(ledger.keys).toBe(2)
      yield* TestClock.adjust("2 minutes")
      expect(yield* deposit("c")).toMatchObject({ id: 4, balance: 40 })
      expect(ledger.keys).toBe(1) // "a" and "b" swept by the keyed request
      expect(yield* bank.request(Bank.Balance({ account: "alice" }))).toBe(40)
    }).pipe(Effect.provide(network)))
})

describe("the ledger", () => {
  it("a key reused after it expired is remembered again, as the newest (the count bound then forgets the others first)", () => {
    const ledger = new BankServer.Ledger({ maxAccounts: 10, maxKeys: 2, keyTtlMs: 1000 })
    expect(ledger.open("a")).toBe(undefined)
    const at = (key: string, now: number) => ledger.deposit("a", 1, key, now)
    at("x", 0)
    at("y", 900)
    // x expired at 1000: applied again at 1500, now the newest
    expect(at("x", 1500)._tag).toBe("Success")
    expect(ledger.transactions).toBe(3)
    at("z", 1600) // over 2 keys: y is the oldest
    expect(ledger.keys).toBe(2)
    expect(at("x", 1700)).toMatchObject({ _tag: "Success", value: { id: 3 } })
    expect(at("z", 1700)).toMatchObject({ _tag: "Success", value: { id: 4 } })
    expect(ledger.transactions).toBe(4)
  })
})
