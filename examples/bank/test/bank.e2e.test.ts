/**
 * The bank example as `npm start -- --example bank --runtime X` runs it, on
 * every runtime, driven by the CLI (`node examples/bank/dist/cli.js`)
 * run as separate processes, the way a user runs them: a CLI that times out
 * and is run again with the same `--key` moves the money once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, runCli, startExample as start } from "../../../scripts/example-process.ts"
import type { CliRun } from "../../../scripts/example-process.ts"
import { certFiles, mutualTlsTitle, mutualTlsUnsupported, serverTlsArgs } from "../../../scripts/tls-clients.ts"
import type { CertFiles } from "../../../scripts/tls-clients.ts"

/** The runtimes this example is tested on (each has a main.<runtime>.ts entry). */
const tested = ["node", "bun", "deno"] as const

/** The server answers each Deposit and Transfer this long after applying it (ms). */
const REPLY_DELAY = 1000

/** Starts the example on `runtime`, port 0 (see scripts/example-process.ts). */
const startExample = (runtime: string, args: Array<string> = []) => start("bank", runtime, args)

/** Runs the CLI to completion (killed after 60 s). */
const cli = (args: Array<string>) => runCli("bank", args)

const ok = (stdout: string): CliRun => ({ code: 0, stdout, stderr: "" })
/** A receipt line, any transaction number. */
const transferLine = (from: string, to: string, amount: number, fromBalance: number, toBalance: number) =>
  new RegExp(`^#\\d+ transfer ${amount} from ${from} to ${to}: ${from} ${fromBalance}, ${to} ${toBalance}\\n$`)

describe.each(tested)("examples/bank on %s (the process npm start runs), with the CLI", (runtime) => {
  let ex: ReturnType<typeof startExample>
  let port: string
  const bank = (...args: Array<string>) => cli(["--port", port, ...args])

  beforeAll(async () => {
    ex = startExample(runtime, ["--reply-delay", String(REPLY_DELAY)])
    port = String(await ex.port)
  }, 90_000)

  afterAll(() => {
    if (ex.child.exitCode === null && ex.child.signalCode === null) ex.child.kill("SIGKILL")
  })

  it(
    "open, deposit, transfer, balance, typed errors: exact stdout and exit statuses; a deposit and a transfer run twice with one --key apply once",
    async () => {
      // independent chains run at once (each CLI process pays for its own startup)
      const keyed = async () => {
        expect(await Promise.all([bank("open", "alice"), bank("open", "bob")])).toEqual([ok("OK\n"), ok("OK\n")])
        const deposit = await bank("deposit", "alice", "10000", "--key", "d-1")
        expect(deposit).toMatchObject({ code: 0, stderr: "" })
        expect(deposit.stdout).toMatch(/^#\d+ deposit 10000 to alice: balance 10000\n$/)
        // the retry: the same receipt (same transaction number), nothing added
        const [again, transfer] = await Promise.all([
          bank("deposit", "alice", "10000", "--key", "d-1"),
          bank("transfer", "alice", "bob", "3000", "--key", "t-1")
        ])
        expect(again).toEqual(deposit)
        expect(transfer.code).toBe(0)
        expect(transfer.stdout).toMatch(transferLine("alice", "bob", 3000, 7000, 3000))
        // t-1 again, and t-2 from two processes at once (both in flight: the server answers a second after applying)
        const [retry, a, b] = await Promise.all([
          bank("transfer", "alice", "bob", "3000", "--key", "t-1"),
          bank("transfer", "alice", "bob", "500", "--key", "t-2"),
          bank("transfer", "alice", "bob", "500", "--key", "t-2")
        ])
        expect(retry).toEqual(transfer)
        expect(a.stdout).toMatch(transferLine("alice", "bob", 500, 6500, 3500))
        expect(b).toEqual(a)
        // without a key, each run is a new transfer
        expect((await bank("transfer", "bob", "alice", "100")).stdout).toMatch(
          transferLine("bob", "alice", 100, 3400, 6600)
        )
        expect(await Promise.all([bank("balance", "alice"), bank("balance", "bob")])).toEqual([
          ok("6600\n"),
          ok("3400\n")
        ])
      }
      const errors = async () => {
        await Promise.all([bank("open", "erin"), bank("open", "fay")])
        const [exists, missing, invalid, keyed] = await Promise.all([
          bank("open", "erin"),
          bank("transfer", "erin", "nobody", "1"),
          bank("deposit", "erin", "--", "-5"),
          bank("deposit", "erin", "7", "--key", "k-erin")
        ])
        expect(exists).toEqual({
          code: 3,
          stdout: "",
          stderr: "bank: AccountExists: the account erin already exists\n"
        })
        expect(missing).toEqual({ code: 1, stdout: "", stderr: "bank: NoSuchAccount: no such account: nobody\n" })
        expect(invalid).toEqual({
          code: 3,
          stdout: "",
          stderr: "bank: InvalidAmount: invalid amount -5: an amount must be positive\n"
        })
        expect(keyed.code).toBe(0)
        // the key used for another request; more than erin holds
        const [conflict, overdraw] = await Promise.all([
          bank("deposit", "erin", "8", "--key", "k-erin"),
          bank("transfer", "erin", "fay", "1000000")
        ])
        expect(conflict).toEqual({
          code: 3,
          stdout: "",
          stderr: `bank: KeyConflict: the key "k-erin" was used for a different request\n`
        })
        expect(overdraw).toEqual({
          code: 3,
          stdout: "",
          stderr: "bank: InsufficientFunds: erin holds 7, 1000000 requested\n"
        })
      }
      await Promise.all([keyed(), errors()])
    },
    90_000
  )

  it(
    "a transfer whose CLI timed out (exit 4) was applied; run again with the same --key it prints the receipt and moves nothing more",
    async () => {
      await Promise.all([bank("open", "carol"), bank("open", "dave")])
      expect((await bank("deposit", "carol", "500")).code).toBe(0)
      const timedOut = await bank("--timeout", "300", "transfer", "carol", "dave", "200", "--key", "slow-1")
      expect(timedOut.code).toBe(4)
      expect(timedOut.stdout).toBe("")
      expect(timedOut.stderr).toBe(
        `bank: no answer from 127.0.0.1:${port} within 300 ms ` +
          `(it may or may not have been applied; run it again with --key slow-1: it is applied at most once)\n`
      )
      // it had been applied: the answer was what was late
      expect(await bank("balance", "carol")).toEqual(ok("300\n"))
      const retry = await bank("transfer", "carol", "dave", "200", "--key", "slow-1")
      expect(retry.code).toBe(0)
      expect(retry.stdout).toMatch(transferLine("carol", "dave", 200, 300, 200))
      expect(await Promise.all([bank("balance", "carol"), bank("balance", "dave")])).toEqual([ok("300\n"), ok("200\n")])
    },
    90_000
  )

  it("exits 0 on SIGINT", async () => {
    ex.child.kill("SIGINT")
    expect(await ex.exited).toBe(0)
    expect(ex.output()).toMatch(/shut down/)
  }, 90_000)
})

describe("the bank CLI without a server", () => {
  it("exits 4 with a clear message when the connection is refused", async () => {
    const port = await freePort()
    expect(await cli(["--port", String(port), "balance", "alice"])).toEqual({
      code: 4,
      stdout: "",
      stderr:
        `bank: cannot connect to 127.0.0.1:${port}: connection refused (is the server running? npm start -- --example bank)\n`
    })
  }, 90_000)

  it("exits 2 with the usage on a bad command line", async () => {
    const runs = await Promise.all(
      [
        ["frob"],
        ["open"],
        ["deposit", "alice"],
        ["deposit", "alice", "1.5"],
        ["transfer", "alice", "bob"],
        ["balance", "alice", "--key", "k"],
        ["open", "a".repeat(65)]
      ].map(cli)
    )
    for (const run of runs) {
      expect(run.code).toBe(2)
      expect(run.stdout).toBe("")
      expect(run.stderr).toMatch(/^bank: .*\nusage: bank /)
    }
  }, 90_000)
})

describe("the bank server's flags", () => {
  it("exits 2 with the usage on a bad flag", async () => {
    const ex = startExample("node", ["--max-keys", "0"])
    expect(await ex.exited).toBe(2)
    expect(ex.output()).toMatch(
      /bank-server: --max-keys must be an integer from 1 to 10000000 \(got 0\)\nusage: bank-server /
    )
  }, 90_000)
})

describe.each(tested)(
  "examples/bank on %s with --tls-cert/--tls-key/--tls-ca (mutual TLS), with the CLI",
  (runtime) => {
    describe.skipIf(mutualTlsUnsupported(runtime) !== undefined)(
      mutualTlsTitle(runtime, "served over mutual TLS"),
      () => {
        let files: CertFiles
        let ex: ReturnType<typeof startExample>
        let port: string

        beforeAll(async () => {
          files = certFiles()
          ex = startExample(runtime, serverTlsArgs(files, { mutual: true }))
          port = String(await ex.port)
        }, 90_000)

        afterAll(async () => {
          ex?.child.kill("SIGINT")
          await ex?.exited
          files?.remove()
        })

        it(
          "the CLI with a client certificate (--tls-cert/--tls-key) is served; without one it gets no answer (exit 4); the log says so",
          async () => {
            const bank = (...args: Array<string>) =>
              cli([
                "--port",
                port,
                "--tls-ca",
                files.ca,
                "--tls-cert",
                files.clientCert,
                "--tls-key",
                files.clientKey,
                ...args
              ])
            expect(await bank("open", "tess")).toEqual(ok("OK\n"))
            const [balance, anonymous] = await Promise.all([
              bank("balance", "tess"),
              cli(["--port", port, "--tls", "--tls-ca", files.ca, "balance", "tess"])
            ])
            expect(balance).toEqual(ok("0\n"))
            expect(anonymous.code).toBe(4)
            expect(anonymous.stdout).toBe("")
            expect(anonymous.stderr).toBe(
              `bank: the connection to 127.0.0.1:${port} was lost (a server that requires client certificates does this: --tls-cert PATH --tls-key PATH)\n`
            )
            expect(ex.output()).toMatch(/bank: listening on 127\.0\.0\.1:\d+ with TLS \(client certificates required\)/)
          },
          60_000
        )
      }
    )
  }
)
