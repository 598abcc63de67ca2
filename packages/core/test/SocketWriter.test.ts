/**
 * The write queue adapters use when their runtime buffers nothing
 * (`Driver.makeSocketWriter`), against fake runtimes: a synchronous one that
 * takes what fits in its room now (like Bun), and an asynchronous one whose
 * every send is a promise the test settles (like Deno).
 */
import v8 from "node:v8"
import vm from "node:vm"
import { describe, expect, it } from "vitest"
import { ConnectionError } from "../src/Connection.ts"
import * as Driver from "../src/Driver.ts"

const bytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (seed + i * 7) & 0xff
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Byte-wise equality without vitest's slow deep diff of large arrays. */
const expectBytes = (actual: Uint8Array, expected: Uint8Array) => {
  expect(actual.length).toBe(expected.length)
  expect(Buffer.compare(actual, expected)).toBe(0)
}

/** Settles pending promise callbacks (several hops: a send's settlement starts the next send). */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/** What the writer reports to the core. */
const makeEvents = () => {
  const log: Array<string> = []
  const errors: Array<{ reason: string; code: string | undefined; cause: unknown }> = []
  let drains = 0
  return {
    log,
    errors,
    drains: () => drains,
    events: {
      drain: () => {
        drains++
        log.push("drain")
      },
      error: (reason: ConnectionError["reason"], code?: string, cause?: unknown) => {
        errors.push({ reason, code, cause })
        log.push(`error ${reason}`)
      }
    }
  }
}

/**
 * A runtime like Bun's: `send` takes at most `room` bytes now, records a copy
 * of them, and keeps nothing; `room` refills when the test says so.
 */
const syncRuntime = (room: number) => {
  const out: Array<Uint8Array> = []
  const sends: Array<{ offset: number; length: number; data: Uint8Array | undefined }> = []
  let shutdowns = 0
  const state = { room, gone: false, keepArgs: true, record: true }
  const target: Driver.WriteTarget = {
    send: (data, offset, length) => {
      sends.push({ offset, length, data: state.keepArgs ? data : undefined })
      if (state.gone) return -1
      const n = Math.min(length, state.room)
      state.room -= n
      if (n > 0 && state.record) out.push(data.slice(offset, offset + n))
      return n
    },
    shutdown: () => {
      shutdowns++
    }
  }
  return { target, out, sends, state, shutdowns: () => shutdowns, received: () => concat(out) }
}

interface Pending {
  readonly data: Uint8Array
  readonly resolve: (n: number) => void
  readonly reject: (e: unknown) => void
}

/** A runtime like Deno's: every send and the shutdown are promises the test settles. */
const asyncRuntime = () => {
  const sends: Array<Pending> = []
  const shutdowns: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  const log: Array<string> = []
  const target: Driver.WriteTarget = {
    send: (data, offset, length) =>
      new Promise<number>((resolve, reject) => {
        sends.push({ data: data.slice(offset, offset + length), resolve, reject })
      }),
    shutdown: () =>
      new Promise<void>((resolve, reject) => {
        log.push("shutdown")
        shutdowns.push({ resolve, reject })
      }),
    finished: () => {
      log.push("finished")
    }
  }
  return { target, sends, shutdowns, log }
}

describe("SocketWriter, synchronous runtime", () => {
  it("a write the runtime takes whole is not queued: true, nothing buffered, the caller's array sent as is", () => {
    const rt = syncRuntime(1000)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    const data = bytes(100, 1)
    expect(w.write(data)).toBe(true)
    expect(rt.sends).toHaveLength(1)
    expect(rt.sends[0]!.data).toBe(data)
    expect(rt.sends[0]).toMatchObject({ offset: 0, length: 100 })
    expect(w.writeBuffered()).toBe(0)
    expect(w.written).toBe(100)
  })

  it("partial writes: the rest waits, later writes queue behind it untouched, writable() flushes in order", () => {
    const rt = syncRuntime(5)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    const a = bytes(12, 1)
    const b = bytes(3, 2)
    const c = bytes(20, 3)
    w.write(a)
    expect(w.writeBuffered()).toBe(7)
    expect(w.written).toBe(5)
    // queued: not offered to the runtime while older bytes wait
    w.write(b)
    w.writev([c, bytes(0, 0)])
    expect(rt.sends).toHaveLength(1)
    expect(w.writeBuffered()).toBe(7 + 3 + 20)
    // a little room: the head continues where it stopped
    rt.state.room = 4
    w.writable()
    expect(w.writeBuffered()).toBe(26)
    rt.state.room = 1000
    w.writable()
    expect(w.writeBuffered()).toBe(0)
    expect(w.written).toBe(35)
    expectBytes(rt.received(), concat([a, b, c]))
  })

  it("small queued chunks are merged into one send (at most 64 KiB); a large one is sent from its own array", () => {
    const rt = syncRuntime(0)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events, { writeHighWaterMark: 1 << 30 })
    const parts: Array<Uint8Array> = []
    for (let i = 0; i < 100; i++) parts.push(bytes(1000, i))
    const big = bytes(100_000, 7)
    for (const p of parts) w.write(p)
    w.write(big)
    rt.sends.length = 0
    rt.state.room = 1 << 30
    w.writable()
    // 100 x 1000 bytes: one merged send of the 65 that fit in 64 KiB, one of the other 35, then `big` itself
    expect(rt.sends.map((s) => s.length)).toEqual([65_000, 35_000, 100_000])
    expect(rt.sends[2]!.data).toBe(big)
    expectBytes(rt.received(), concat([...parts, big]))
  })

  it("writev on an idle socket: a small batch goes out as one send; a large one chunk by chunk without copies", () => {
    const rt = syncRuntime(1 << 30)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    const small = [bytes(10, 1), bytes(20, 2), bytes(30, 3)]
    expect(w.writev(small)).toBe(true)
    expect(rt.sends.map((s) => s.length)).toEqual([60])
    const large = [bytes(40_000, 4), bytes(40_000, 5), bytes(10, 6)]
    rt.sends.length = 0
    rt.state.room = 50_000
    w.writev(large)
    // the first fits, the second is cut short, the third waits behind it
    expect(rt.sends).toHaveLength(2)
    expect(rt.sends[0]!.data).toBe(large[0])
    expect(rt.sends[1]!.data).toBe(large[1])
    expect(w.writeBuffered()).toBe(30_000 + 10)
    rt.state.room = 1 << 30
    w.writable()
    expectBytes(rt.received(), concat([...small, ...large]))
  })

  it("high-water mark: false at or past it, one drain once below it again (not before), none when never refused", () => {
    const rt = syncRuntime(0)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events, { writeHighWaterMark: 10 })
    expect(w.write(bytes(6, 1))).toBe(true)
    expect(w.write(bytes(3, 2))).toBe(true)
    // 9 + 1 = 10: at the mark
    expect(w.write(bytes(1, 3))).toBe(false)
    expect(w.write(bytes(5, 4))).toBe(false)
    expect(w.writeBuffered()).toBe(15)
    rt.state.room = 4
    w.writable()
    // 11 left: still at or past the mark, no drain
    expect(ev.drains()).toBe(0)
    rt.state.room = 2
    w.writable()
    expect(w.writeBuffered()).toBe(9)
    expect(ev.drains()).toBe(1)
    // the debt is paid: more room does not repeat it
    rt.state.room = 100
    w.writable()
    expect(w.writeBuffered()).toBe(0)
    expect(ev.drains()).toBe(1)
    // writes that were all accepted owe no drain
    rt.state.room = 0
    w.write(bytes(3, 5))
    rt.state.room = 100
    w.writable()
    expect(ev.drains()).toBe(1)
  })

  it("a high-water mark of 0 still drains once the queue is empty", () => {
    const rt = syncRuntime(0)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events, { writeHighWaterMark: 0 })
    // nothing unsent: nothing to wait for
    expect(w.write(new Uint8Array(0))).toBe(true)
    expect(w.write(bytes(4, 1))).toBe(false)
    rt.state.room = 100
    w.writable()
    expect(ev.drains()).toBe(1)
  })

  it("end waits for the queue: the FIN follows the last byte, then every end callback succeeds, once", () => {
    const rt = syncRuntime(0)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    w.write(bytes(50, 1))
    const done: Array<unknown> = []
    w.end((e) => done.push(e ?? "ok"))
    w.end((e) => done.push(e ?? "ok2"))
    expect(w.ending).toBe(true)
    expect(rt.shutdowns()).toBe(0)
    expect(done).toEqual([])
    rt.state.room = 20
    w.writable()
    expect(rt.shutdowns()).toBe(0)
    rt.state.room = 100
    w.writable()
    expectBytes(rt.received(), bytes(50, 1))
    expect(rt.shutdowns()).toBe(1)
    expect(done).toEqual(["ok", "ok2"])
    expect(w.ended).toBe(true)
    // a spurious drain event and a later end do not send a second FIN
    w.writable()
    w.end((e) => done.push(e ?? "late"))
    expect(rt.shutdowns()).toBe(1)
    expect(done).toEqual(["ok", "ok2", "late"])
  })

  it("end on an empty queue sends the FIN at once", () => {
    const rt = syncRuntime(100)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    w.write(bytes(10, 1))
    let done = false
    w.end(() => {
      done = true
    })
    expect(rt.shutdowns()).toBe(1)
    expect(done).toBe(true)
  })

  it("allowHalfOpen: false ends our side when the peer ends (after the queue); a later write is dropped and reported Closed after the call", async () => {
    const rt = syncRuntime(0)
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events, { allowHalfOpen: false })
    w.write(bytes(8, 1))
    w.peerEnded()
    expect(w.ending).toBe(true)
    expect(rt.shutdowns()).toBe(0)
    const sends = rt.sends.length
    expect(w.write(bytes(5, 2))).toBe(true)
    expect(rt.sends.length).toBe(sends)
    expect(w.writeBuffered()).toBe(8)
    // not from inside the write call
    expect(ev.errors).toEqual([])
    await settle()
    expect(ev.errors).toEqual([{ reason: "Closed", code: "ERR_STREAM_WRITE_AFTER_END", cause: undefined }])
    rt.state.room = 100
    w.writable()
    expectBytes(rt.received(), bytes(8, 1))
    expect(rt.shutdowns()).toBe(1)
  })

  it("allowHalfOpen: true keeps our side open when the peer ends", () => {
    const rt = syncRuntime(100)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events, { allowHalfOpen: true })
    w.peerEnded()
    expect(w.ending).toBe(false)
    expect(w.write(bytes(3, 1))).toBe(true)
    expectBytes(rt.received(), bytes(3, 1))
    expect(rt.shutdowns()).toBe(0)
  })

  it("a socket found gone by a direct write is a Reset; the close drops the queue and fails pending ends with its reason", () => {
    const rt = syncRuntime(0)
    const ev = makeEvents()
    const remoteAddress = { host: "10.0.0.1", port: 9 }
    const w = Driver.makeSocketWriter(rt.target, ev.events, { remoteAddress, writeHighWaterMark: 4 })
    expect(w.write(bytes(10, 1))).toBe(false)
    const ends: Array<ConnectionError | undefined> = []
    w.end((e) => ends.push(e))
    // a flush that finds the socket gone stays silent: the close event says why
    rt.state.gone = true
    w.writable()
    expect(ev.errors).toEqual([])
    const cause = new Error("reset by peer")
    w.close({ reason: "Reset", code: "ECONNRESET", cause })
    expect(w.writeBuffered()).toBe(0)
    expect(ends).toHaveLength(1)
    expect(ends[0]).toBeInstanceOf(ConnectionError)
    expect(ends[0]).toMatchObject({ reason: "Reset", operation: "end", code: "ECONNRESET", cause, remoteAddress })
    // no drain for a closed writer, writes ignored, end fails Closed
    rt.state.room = 100
    w.writable()
    expect(ev.drains()).toBe(0)
    const sends = rt.sends.length
    expect(w.write(bytes(1, 2))).toBe(true)
    expect(rt.sends.length).toBe(sends)
    w.end((e) => ends.push(e))
    expect(ends[1]).toMatchObject({ reason: "Closed", operation: "end" })

    const rt2 = syncRuntime(100)
    const ev2 = makeEvents()
    const w2 = Driver.makeSocketWriter(rt2.target, ev2.events)
    rt2.state.gone = true
    expect(w2.write(bytes(3, 1))).toBe(true)
    expect(ev2.errors).toEqual([{ reason: "Reset", code: "EPIPE", cause: undefined }])
  })

  it("a close without a failure fails pending ends with Closed", () => {
    const rt = syncRuntime(0)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    w.write(bytes(3, 1))
    const ends: Array<ConnectionError | undefined> = []
    w.end((e) => ends.push(e))
    w.close()
    expect(ends).toHaveLength(1)
    expect(ends[0]).toMatchObject({ reason: "Closed", operation: "end" })
  })

  it("writeBuffered and written account for every byte: handed = written + buffered at every step", () => {
    const rt = syncRuntime(0)
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events, { writeHighWaterMark: 1 << 30 })
    let handed = 0
    let seed = 0
    for (let round = 0; round < 200; round++) {
      const size = (round * 37) % 3000
      if (round % 3 === 0) {
        const batch = [bytes(size, seed++), bytes(size >> 1, seed++)]
        w.writev(batch)
        handed += batch[0]!.length + batch[1]!.length
      } else {
        w.write(bytes(size, seed++))
        handed += size
      }
      rt.state.room = (round * 53) % 2000
      w.writable()
      expect(w.written + w.writeBuffered()).toBe(handed)
      expect(w.written).toBe(rt.received().length)
    }
    rt.state.room = 1 << 30
    w.writable()
    expect(w.writeBuffered()).toBe(0)
    expect(w.written).toBe(handed)
  })

  it("holds no reference to a chunk once it is flushed", async () => {
    v8.setFlagsFromString("--expose-gc")
    const gc = vm.runInNewContext("gc") as () => void
    const rt = syncRuntime(0)
    rt.state.keepArgs = false
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    const refs: Array<WeakRef<Uint8Array>> = [] // one chunk partly sent (the writer keeps it), one merged with others, one large
    ;(() => {
      rt.state.room = 10
      const chunks = [bytes(1000, 1), bytes(100, 2), bytes(200, 3), bytes(70_000, 4)]
      w.write(chunks[0]!)
      w.writev(chunks.slice(1))
      for (const c of chunks) refs.push(new WeakRef(c))
    })()
    await settle()
    gc()
    // still queued: still held
    expect(refs.every((r) => r.deref() !== undefined)).toBe(true)
    rt.state.room = 1 << 30
    w.writable()
    expect(w.writeBuffered()).toBe(0)
    // white-box: not even empty slots are left behind
    expect((w as unknown as { readonly q: ReadonlyArray<unknown> }).q).toEqual([])
    await settle()
    gc()
    expect(refs.map((r) => r.deref())).toEqual([undefined, undefined, undefined, undefined])
  })

  it("a queue that never empties stays compact: sent chunks do not pile up behind the head", () => {
    const rt = syncRuntime(0)
    rt.state.keepArgs = false
    rt.state.record = false
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events, { writeHighWaterMark: 1 << 30 })
    // large chunks are never merged: each is one send
    const chunk = bytes(20_000, 1)
    for (let i = 0; i < 3000; i++) w.write(chunk)
    // the runtime takes 2 chunks per drain while 1 more arrives: the queue never empties
    for (let i = 0; i < 1500; i++) {
      rt.state.room = 40_000
      w.writable()
      w.write(chunk)
    }
    expect(w.writeBuffered()).toBe(1500 * 20_000)
    // white-box: the array behind the queue, 4500 slots if nothing were ever dropped
    const slots = (w as unknown as { readonly q: ReadonlyArray<unknown> }).q.length
    expect(slots).toBeLessThanOrEqual(2 * 1500 + 1)
    expect(w.written).toBe(3000 * 20_000)
  })
})

describe("SocketWriter, asynchronous runtime", () => {
  it("one send at a time; chunks written meanwhile queue behind it, merged, in order", async () => {
    const rt = asyncRuntime()
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    const a = bytes(100, 1)
    w.write(a)
    expect(rt.sends).toHaveLength(1)
    const rest = [bytes(10, 2), bytes(20, 3), bytes(30, 4)]
    w.write(rest[0]!)
    w.writev(rest.slice(1))
    expect(rt.sends).toHaveLength(1)
    expect(w.writeBuffered()).toBe(160)
    rt.sends[0]!.resolve(100)
    await settle()
    expect(rt.sends).toHaveLength(2)
    expectBytes(rt.sends[1]!.data, concat(rest))
    expect(w.writeBuffered()).toBe(60)
    rt.sends[1]!.resolve(60)
    await settle()
    expect(w.writeBuffered()).toBe(0)
    expect(w.written).toBe(160)
    expectBytes(concat(rt.sends.map((s) => s.data)), concat([a, ...rest]))
  })

  it("a partial send continues with the rest of the same bytes", async () => {
    const rt = asyncRuntime()
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    const a = bytes(100_000, 1)
    w.write(a)
    rt.sends[0]!.resolve(30_000)
    await settle()
    expect(w.written).toBe(30_000)
    expect(w.writeBuffered()).toBe(70_000)
    expectBytes(rt.sends[1]!.data, a.subarray(30_000))
    rt.sends[1]!.resolve(70_000)
    await settle()
    expect(w.writeBuffered()).toBe(0)
    expect(rt.sends).toHaveLength(2)
  })

  it("the send in progress does not count against the mark; drain once the waiting bytes fall below it", async () => {
    const rt = asyncRuntime()
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events, { writeHighWaterMark: 100 })
    // 1000 bytes in flight: the runtime has them
    expect(w.write(bytes(1000, 1))).toBe(true)
    expect(w.write(bytes(60, 2))).toBe(true)
    expect(w.write(bytes(60, 3))).toBe(false)
    expect(w.writeBuffered()).toBe(1120)
    rt.sends[0]!.resolve(1000)
    await settle()
    // 120 waiting when the first send completed: no drain yet; the next send takes them
    expect(ev.drains()).toBe(0)
    expect(rt.sends).toHaveLength(2)
    rt.sends[1]!.resolve(50)
    await settle()
    expect(ev.drains()).toBe(1)
    rt.sends[2]!.resolve(70)
    await settle()
    expect(ev.drains()).toBe(1)
    expect(w.writeBuffered()).toBe(0)
  })

  it("end: the FIN after the queue, the end callbacks once it is sent, then `finished`", async () => {
    const rt = asyncRuntime()
    const w = Driver.makeSocketWriter(rt.target, makeEvents().events)
    w.write(bytes(10, 1))
    w.write(bytes(10, 2))
    w.end((e) => rt.log.push(e ? `end failed ${e.reason}` : "end done"))
    expect(rt.log).toEqual([])
    rt.sends[0]!.resolve(10)
    await settle()
    expect(rt.log).toEqual([])
    rt.sends[1]!.resolve(10)
    await settle()
    expect(rt.log).toEqual(["shutdown"])
    expect(w.ended).toBe(false)
    rt.shutdowns[0]!.resolve()
    await settle()
    expect(rt.log).toEqual(["shutdown", "end done", "finished"])
    expect(w.ended).toBe(true)
  })

  it("errors while queued: a failed send reaches `failed` with its cause; nothing more is sent", async () => {
    const rt = asyncRuntime()
    const failures: Array<unknown> = []
    const w = Driver.makeSocketWriter({
      ...rt.target,
      failed: (cause) => {
        failures.push(cause)
        w.close({ reason: "Reset", code: "ECONNRESET", cause })
      }
    }, makeEvents().events)
    w.write(bytes(10, 1))
    w.write(bytes(10, 2))
    const ends: Array<ConnectionError | undefined> = []
    w.end((e) => ends.push(e))
    const cause = Object.assign(new Error("reset"), { code: "ECONNRESET" })
    rt.sends[0]!.reject(cause)
    await settle()
    expect(failures).toEqual([cause])
    expect(rt.sends).toHaveLength(1)
    expect(rt.shutdowns).toHaveLength(0)
    expect(w.writeBuffered()).toBe(0)
    expect(ends[0]).toMatchObject({ reason: "Reset", operation: "end", code: "ECONNRESET" })
  })

  it("without `failed`, the writer reports a failed send itself (reason from the cause's code) and closes", async () => {
    const rt = asyncRuntime()
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    w.write(bytes(10, 1))
    w.write(bytes(10, 2))
    const cause = Object.assign(new Error("broken"), { code: "EPIPE" })
    rt.sends[0]!.reject(cause)
    await settle()
    expect(ev.errors).toEqual([{ reason: "Reset", code: "EPIPE", cause }])
    expect(w.writeBuffered()).toBe(0)
    expect(w.write(bytes(1, 3))).toBe(true)
    expect(rt.sends).toHaveLength(1)
  })

  it("a send that takes no bytes is a failure (EPIPE), not a loop", async () => {
    const rt = asyncRuntime()
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    w.write(bytes(10, 1))
    rt.sends[0]!.resolve(0)
    await settle()
    expect(rt.sends).toHaveLength(1)
    expect(ev.errors).toHaveLength(1)
    expect(ev.errors[0]).toMatchObject({ reason: "Reset", code: "EPIPE" })
    expect(w.writeBuffered()).toBe(0)
  })

  it("a failed FIN fails the end; a close while the FIN is pending fails it with Closed and skips `finished`", async () => {
    const rt = asyncRuntime()
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events)
    const ends: Array<ConnectionError | undefined> = []
    w.end((e) => ends.push(e))
    rt.shutdowns[0]!.reject(Object.assign(new Error("not connected"), { code: "ENOTCONN" }))
    await settle()
    expect(ends[0]).toMatchObject({ reason: "Reset", code: "ENOTCONN", operation: "end" })
    expect(ev.errors).toHaveLength(1)

    const rt2 = asyncRuntime()
    const w2 = Driver.makeSocketWriter(rt2.target, makeEvents().events)
    const ends2: Array<ConnectionError | undefined> = []
    w2.end((e) => ends2.push(e))
    w2.close()
    rt2.shutdowns[0]!.resolve()
    await settle()
    expect(ends2).toHaveLength(1)
    expect(ends2[0]).toMatchObject({ reason: "Closed", operation: "end" })
    expect(rt2.log).toEqual(["shutdown"])
    expect(w2.ended).toBe(false)
  })

  it("a send settling after the close changes nothing", async () => {
    const rt = asyncRuntime()
    const ev = makeEvents()
    const w = Driver.makeSocketWriter(rt.target, ev.events, { writeHighWaterMark: 1 })
    w.write(bytes(10, 1))
    expect(w.write(bytes(10, 2))).toBe(false)
    w.close()
    rt.sends[0]!.resolve(10)
    await settle()
    expect(rt.sends).toHaveLength(1)
    expect(ev.drains()).toBe(0)
    expect(w.written).toBe(0)
    expect(w.writeBuffered()).toBe(0)
  })
})
