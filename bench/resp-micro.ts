/**
 * Micro-benchmark of the pure pipeline of one read, as `RespServer` runs it:
 * decode a chunk of 16 pipelined commands → execute each (one clock reading) → `replyWriter`.
 *
 *   taskset -c 0 bun run bench/resp-micro.ts set|get|incr|list|setr|getr [rounds]     (env COPY_UP_TO=n: decoder option)
 *
 * `setr`/`getr` use random keys (half of them set for `getr`), the others one key.
 * Prints µs per command for decode only, decode+execute, decode+execute+encode (each mode
 * measured `rounds` times, default 2; the last line gives the medians).
 */
import { ByteBuffer } from "@wirekit/core"
import * as Commands from "../examples/resp/src/Commands.ts"
import * as Resp from "../examples/resp/src/Resp.ts"
import { makeSession } from "../examples/resp/src/Session.ts"
import * as Store from "../examples/resp/src/Store.ts"

const enc = new TextEncoder()
const cmd = (...w: Array<string>) => `*${w.length}\r\n` + w.map((x) => `$${x.length}\r\n${x}\r\n`).join("")
const which = process.argv[2] ?? "set"
const rounds = Number(process.argv[3] ?? 2)
const PIPELINE = 16
const commandsOf: Record<string, () => string> = {
  set: () => cmd("SET", "key:__rand_int__", "xxx").repeat(PIPELINE),
  get: () => cmd("GET", "key:__rand_int__").repeat(PIPELINE),
  incr: () => cmd("INCR", "counter:__rand_int__").repeat(PIPELINE),
  // the list stays short: 8 pushes then 8 pops per chunk
  list: () => cmd("LPUSH", "mylist", "xxx").repeat(PIPELINE / 2) + cmd("LPOP", "mylist").repeat(PIPELINE / 2)
}
// setr/getr: keys drawn from 100,000 (as `redis-benchmark -r 100000`), 1024 different chunks
const randomKey = () => `key:${String(Math.floor(Math.random() * 100000)).padStart(12, "0")}`
const randomOf: Record<string, () => string> = {
  setr: () => Array.from({ length: PIPELINE }, () => cmd("SET", randomKey(), "xxx")).join(""),
  getr: () => Array.from({ length: PIPELINE }, () => cmd("GET", randomKey())).join("")
}
const make = commandsOf[which] ?? randomOf[which]
if (make === undefined) {
  throw new Error(`mode: one of ${[...Object.keys(commandsOf), ...Object.keys(randomOf)].join(", ")}`)
}
const batches = Array.from({ length: which in randomOf ? 1024 : 1 }, () => enc.encode(make()))
let next = 0
const store = Store.make()
Commands.execute(store, [enc.encode("SET"), enc.encode("key:__rand_int__"), enc.encode("xxx")], makeSession({ id: 1 }))
if (which === "getr") {
  for (let i = 0; i < 100000; i++) {
    const key = `key:${String(i).padStart(12, "0")}`
    if (i % 2 === 0) {
      Commands.execute(store, [enc.encode("SET"), enc.encode(key), enc.encode("xxx")], makeSession({ id: 1 }))
    }
  }
}
const session = makeSession({ id: 1 })
// COPY_UP_TO=n overrides the decoder's copyUpTo (default: per runtime)
const copyUpTo = process.env.COPY_UP_TO === undefined ? undefined : Number(process.env.COPY_UP_TO)
const decoder = Resp.makeRequestDecoder(copyUpTo === undefined ? {} : { copyUpTo })
const out = ByteBuffer.make()
const writer = Resp.replyWriter(out)
const commands: Array<Resp.Command> = []
let sink = 0
const step = (mode: string) => {
  const chunk = batches[next++ & (batches.length - 1)]!.slice() // adapters hand fresh chunks
  decoder.decode(chunk, commands)
  if (mode !== "decode") {
    const now = store.clock()
    for (let i = 0; i < commands.length; i++) {
      const reply = Commands.execute(store, commands[i]!, session, now)
      if (mode === "all") writer.write(reply, session.protocol)
    }
  }
  if (commands.length !== PIPELINE) throw new Error(`decoded ${commands.length} commands`)
  commands.length = 0
  if (mode === "all") {
    writer.end()
    sink += out.take().length
  }
}
const modes = ["decode", "exec", "all"]
const results: Record<string, Array<number>> = { decode: [], exec: [], all: [] }
for (let r = 0; r < rounds; r++) {
  for (const mode of modes) {
    const N = 200000
    for (let i = 0; i < 20000; i++) step(mode)
    const t0 = performance.now()
    for (let i = 0; i < N; i++) step(mode)
    const dt = performance.now() - t0
    const us = (dt * 1000) / (N * PIPELINE)
    results[mode]!.push(us)
    console.log(which, mode, us.toFixed(3), "µs/cmd")
  }
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
console.log(
  "median",
  which,
  modes.map((m) => `${m}=${median(results[m]!).toFixed(3)}`).join(" "),
  sink > 0 ? "" : "(no output?)"
)
