import { Command, HelpDoc, ValidationError } from "@effect/cli"
import type { Options } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { ExampleFlags } from "@wirekit/example-common"
import { Effect, Either } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect } from "vitest"

/** Parses `args` with `options` as a command's only flags: the value, or the refusal's text. */
const parse = <A>(options: Options.Options<A>, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    let value: A | undefined
    const command = Command.make("t", { value: options }, (parsed) => Effect.sync(() => (value = parsed.value)))
    const run = Command.run(command, { name: "t", version: "0" })
    // @effect/cli prints a refusal itself: silenced here, the test reads the error
    const result = yield* Effect.either(
      Effect.withConsole(run(["node", "t", ...args]), { ...(yield* Effect.console), error: () => Effect.void })
    )
    if (Either.isLeft(result)) {
      const error = result.left
      return {
        refused: ValidationError.isValidationError(error) ? HelpDoc.toAnsiText(error.error).trim() : String(error)
      }
    }
    return { value: value as A }
  }).pipe(Effect.provide(NodeContext.layer))

describe("ExampleFlags.server", () => {
  let dir: string
  let cert: string
  let key: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "example-flags-"))
    // only the PEM labels are checked when the flags are read (the TLS stack checks the rest when it listens)
    cert = join(dir, "cert.pem")
    key = join(dir, "key.pem")
    writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n")
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it.effect("defaults: 127.0.0.1, the example's port, one worker, plain TCP, no PROXY protocol", () =>
    Effect.gen(function*() {
      expect(yield* parse(ExampleFlags.server(7000), [])).toEqual({
        value: { host: "127.0.0.1", port: 7000, workers: 1, tls: undefined, proxyProtocol: undefined }
      })
    }))

  it.effect("refuses a port, a worker count out of range or not an integer, naming the flag", () =>
    Effect.gen(function*() {
      const flags = ExampleFlags.server(7000)
      expect(yield* parse(flags, ["--port", "abc"])).toEqual({
        refused: "--port must be an integer from 0 to 65535 (got abc)"
      })
      expect(yield* parse(flags, ["--port", "65536"])).toEqual({
        refused: "--port must be an integer from 0 to 65535 (got 65536)"
      })
      expect(yield* parse(flags, ["--workers", "1.5"])).toEqual({
        refused: `--workers must be an integer from 1 to ${ExampleFlags.maxWorkers} (got 1.5)`
      })
      expect(yield* parse(flags, ["--prot", "1"])).toEqual({ refused: "Received unknown argument: '--prot'" })
    }))

  it.effect("reads the TLS files; --tls-ca requires client certificates; a half pair or a wrong file is refused", () =>
    Effect.gen(function*() {
      const flags = ExampleFlags.server(7000)
      const served = yield* parse(flags, ["--tls-cert", cert, "--tls-key", key])
      expect(served.value?.tls?.certificates).toEqual({
        cert: expect.stringMatching(/BEGIN CERTIFICATE/),
        key: expect.stringMatching(/BEGIN PRIVATE KEY/)
      })
      expect(served.value?.tls?.requestCert).toBeUndefined()
      const mutual = yield* parse(flags, ["--tls-cert", cert, "--tls-key", key, "--tls-ca", cert])
      expect(mutual.value?.tls?.requestCert).toBe(true)
      expect(yield* parse(flags, ["--tls-key", key])).toEqual({
        refused: "--tls-key needs --tls-cert (the certificate of that key)"
      })
      expect((yield* parse(flags, ["--tls-cert", key, "--tls-key", key])).refused).toBe(
        `--tls-cert: ${key} holds no CERTIFICATE PEM block`
      )
      expect((yield* parse(flags, ["--tls-ca", cert])).refused).toMatch(/^--tls-ca needs --tls-cert and --tls-key/)
    }))

  it.effect("--proxy-protocol: a checked list, refused with --tls-cert before any file is read", () =>
    Effect.gen(function*() {
      const flags = ExampleFlags.server(7000)
      expect((yield* parse(flags, ["--proxy-protocol", "127.0.0.1, 10.0.0.0/8"])).value?.proxyProtocol).toEqual({
        trusted: ["127.0.0.1", "10.0.0.0/8"]
      })
      expect((yield* parse(flags, ["--proxy-protocol", "10.0.0.0/33"])).refused).toMatch(
        /^--proxy-protocol: .*10\.0\.0\.0\/33/
      )
      const withTls = yield* parse(flags, [
        "--proxy-protocol",
        "127.0.0.1",
        "--tls-cert",
        "/nowhere.pem",
        "--tls-key",
        "/nowhere.key"
      ])
      expect(withTls.refused).toMatch(/^--proxy-protocol cannot be used with --tls-cert/)
    }))
})

describe("ExampleFlags.clientTls and choice", () => {
  it.effect("no flag: plain TCP; --tls alone: TLS with the system's CAs; a missing CA file is refused", () =>
    Effect.gen(function*() {
      expect(yield* parse(ExampleFlags.clientTls, [])).toEqual({ value: undefined })
      expect(yield* parse(ExampleFlags.clientTls, ["--tls"])).toEqual({ value: {} })
      expect((yield* parse(ExampleFlags.clientTls, ["--tls-ca", "/nonexistent/ca.pem"])).refused).toMatch(
        /^--tls-ca: cannot read \/nonexistent\/ca\.pem/
      )
    }))

  it.effect("choice takes one of its values and names the others when refusing", () =>
    Effect.gen(function*() {
      const framing = ExampleFlags.choice("framing", ["none", "lines", "length"])
      expect(yield* parse(framing, ["--framing", "lines"])).toEqual({ value: "lines" })
      expect(yield* parse(framing, ["--framing", "words"])).toEqual({
        refused: "--framing must be none, lines or length (got words)"
      })
    }))
})
