/**
 * The packages as a user installs them: `npm pack` of every publishable package
 * into a project outside the monorepo (under the OS temp dir), installed with
 * their peers from npm's cache, then
 * - a TypeScript consumer typechecks against the published declarations
 *   (resolved through the `types` condition, never the monorepo's sources);
 * - a server and client round trip runs on plain Node, on Bun with
 *   `@wirekit/bun`, and on Deno with `@wirekit/deno` (through `npm:`
 *   specifiers, and through bare specifiers and the project's package.json).
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ensureBuilt, root } from "../../scripts/runtimes.mjs"

const packages = ["core", "node", "bun", "deno", "redis", "testing"]
/** The peers, pinned to the monorepo's versions (npm's cache has them after `npm ci`). */
const peers = [
  "effect@3.22.4",
  "@effect/platform@0.97.2",
  "@effect/platform-node@0.108.2",
  "msgpackr@2.1.3",
  "@types/node@20.19.43"
]
const bin = (name: string) => join(root, "node_modules", ".bin", name)

interface Run {
  readonly code: number | null
  readonly output: string
}

// npm sets npm_config_* (e.g. the monorepo as local prefix) for the scripts it runs: a nested npm
// would install into the monorepo. The child processes get the environment without them.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")))

/** Runs `cmd args` in `cwd` to completion; SIGKILLed after `ms`. */
const run = (cmd: string, args: ReadonlyArray<string>, cwd: string, ms: number): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), ms)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

/** A server and client round trip on the given transport: prints the upper-cased request. */
const roundTrip = (runtime: string, transportModule: string, transport: string, prefix: string) => `
import { Client, Protocol, ProtocolServer } from "${prefix}@wirekit/core"
import { ${transport} } from "${prefix}${transportModule}"
import { Effect, Schema } from "${prefix}effect"

const Upper = Protocol.schema({ request: Schema.String, response: Schema.String })
const program = Effect.gen(function*() {
  const server = yield* ProtocolServer.serve(Upper, (text) => Effect.succeed(text.toUpperCase()), {
    address: { host: "127.0.0.1", port: 0 }
  })
  const client = yield* Client.make(Upper, server.address)
  return yield* client.request("hello from ${runtime}")
})
const answer = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(${transport}.layer)))
console.log("answer: " + answer)
`

/** Uses every package and subpath; the expected error proves the types are not `any`. */
const consumer = `
import { Client, Protocol, ProtocolServer, Transport } from "@wirekit/core"
import * as Msgpack from "@wirekit/core/msgpack"
import { PlatformSocket } from "@wirekit/core/platform"
import { BunTransport } from "@wirekit/bun"
import { DenoTransport } from "@wirekit/deno"
import { NodeTransport } from "@wirekit/node"
import { RedisBackplane } from "@wirekit/redis"
import { Conformance } from "@wirekit/testing"
import { Effect, Layer, Schema } from "effect"

const Upper = Protocol.schema({ request: Schema.String, response: Schema.String })

export const roundTrip: Effect.Effect<string, unknown, Transport.Transport> = Effect.gen(function*() {
  const server = yield* ProtocolServer.serve(Upper, (text) => Effect.succeed(text.toUpperCase()), {
    address: { host: "127.0.0.1", port: 0 }
  })
  const client = yield* Client.make(Upper, server.address)
  // @ts-expect-error a request of this protocol is a string
  yield* client.request(42)
  return yield* client.request("hello")
}).pipe(Effect.scoped)

export const transports: ReadonlyArray<Layer.Layer<Transport.Transport>> = [
  NodeTransport.layer,
  BunTransport.layer,
  DenoTransport.layer
]
export const codec = Msgpack.msgpack
export const platform = PlatformSocket
export const backplane = RedisBackplane.layer
export const suite: typeof Conformance.run = Conformance.run
`

describe("npm pack: the packages installed outside the monorepo", () => {
  let dir = ""
  let project = ""
  const tarballs: Array<{ readonly name: string; readonly filename: string; readonly files: Array<string> }> = []

  beforeAll(async () => {
    ensureBuilt()
    dir = mkdtempSync(join(tmpdir(), "wirekit-pack-"))
    project = join(dir, "project")
    mkdirSync(project)
    const packed = await run(
      "npm",
      ["pack", ...packages.flatMap((p) => ["-w", `packages/${p}`]), "--pack-destination", dir, "--json"],
      root,
      60_000
    )
    expect(packed.code, packed.output).toBe(0)
    const json = packed.output.slice(packed.output.indexOf("["))
    for (const t of JSON.parse(json) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>) {
      tarballs.push({ name: t.name, filename: t.filename, files: t.files.map((f) => f.path) })
    }
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "wirekit-pack-consumer", private: true, type: "module" }, null, 2)
    )
    const installed = await run(
      "npm",
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--save-exact",
        ...tarballs.map((t) => join(dir, t.filename)),
        ...peers
      ],
      project,
      120_000
    )
    expect(installed.code, installed.output).toBe(0)
    // Bun and Deno would run the TypeScript sources the tarballs also ship (for the declaration maps):
    // without them, every run below proves it loads dist/
    for (const p of packages) rmSync(join(project, "node_modules", "@wirekit", p, "src"), { recursive: true })
  }, 180_000)

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it("each tarball holds the built JavaScript, declarations, maps, sources, README and LICENSE; no build info", () => {
    expect(tarballs.map((t) => t.name).sort()).toEqual(packages.map((p) => `@wirekit/${p}`).sort())
    for (const t of tarballs) {
      for (
        const f of ["dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/index.d.ts.map", "src/index.ts"]
      ) {
        expect(t.files, `${t.name} has ${f}`).toContain(f)
      }
      expect(t.files, t.name).toContain("README.md")
      expect(t.files, t.name).toContain("LICENSE")
      expect(t.files.filter((f) => /tsbuildinfo|^test\//.test(f)), t.name).toEqual([])
    }
  })

  it("a TypeScript consumer typechecks against the published declarations (no source condition)", async () => {
    writeFileSync(join(project, "consumer.ts"), consumer)
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2022"],
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          // the packages' declarations are checked too
          skipLibCheck: false,
          types: ["node"]
        },
        files: ["consumer.ts"]
      })
    )
    const tsc = await run(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", ".", "--listFiles"],
      project,
      60_000
    )
    expect(tsc.code, tsc.output).toBe(0)
    const wirekitFiles = tsc.output.split("\n").filter((l) => l.includes("/node_modules/@wirekit/"))
    expect(wirekitFiles.length).toBeGreaterThan(10)
    expect(wirekitFiles.filter((l) => !/\/node_modules\/@wirekit\/[a-z]+\/dist\//.test(l))).toEqual([])
  }, 90_000)

  it("a server and client round trip on plain Node (@wirekit/node)", async () => {
    writeFileSync(join(project, "node.mjs"), roundTrip("node", "@wirekit/node", "NodeTransport", ""))
    const r = await run(process.execPath, ["node.mjs"], project, 30_000)
    expect(r.code, r.output).toBe(0)
    expect(r.output).toContain("answer: HELLO FROM NODE")
  }, 60_000)

  it("a server and client round trip on Bun (@wirekit/bun)", async () => {
    writeFileSync(join(project, "bun.mjs"), roundTrip("bun", "@wirekit/bun", "BunTransport", ""))
    const r = await run(bin("bun"), ["bun.mjs"], project, 30_000)
    expect(r.code, r.output).toBe(0)
    expect(r.output).toContain("answer: HELLO FROM BUN")
  }, 60_000)

  it("a server and client round trip on Deno (@wirekit/deno), through npm: and through bare specifiers", async () => {
    // "manual": Deno resolves npm: specifiers from the project's node_modules, as npm installed it
    writeFileSync(join(project, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }))
    writeFileSync(join(project, "deno-npm.mjs"), roundTrip("deno (npm:)", "@wirekit/deno", "DenoTransport", "npm:"))
    writeFileSync(join(project, "deno-bare.mjs"), roundTrip("deno (bare)", "@wirekit/deno", "DenoTransport", ""))
    const viaNpm = await run(bin("deno"), ["run", "-A", "deno-npm.mjs"], project, 30_000)
    expect(viaNpm.code, viaNpm.output).toBe(0)
    expect(viaNpm.output).toContain("answer: HELLO FROM DENO (NPM:)")
    const bare = await run(bin("deno"), ["run", "-A", "deno-bare.mjs"], project, 30_000)
    expect(bare.code, bare.output).toBe(0)
    expect(bare.output).toContain("answer: HELLO FROM DENO (BARE)")
  }, 90_000)
})
