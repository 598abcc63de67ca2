// Shared by the raw RESP baselines (raw-node-resp.mjs, raw-bun-resp.mjs,
// raw-deno-resp.mjs; suite `resp`): a RESP request parser and the few commands
// redis-benchmark -t set,get needs, with no runtime API in it. Each server
// passes what differs per runtime (see `RespSession`) and does its own socket I/O.
//
//   const store = makeStore()                         // one keyspace per server process
//   const session = new RespSession(store, { latin1, alloc })
//   Node/Bun:  const out = session.push(chunk)        // every reply of this read, or null
//   Deno:      const n = await conn.read(session.readBuffer()); const out = session.commit(n)
//   then:      write `out` (a view of the session's reusable output buffer) once;
//              session.error !== null: close after writing it (a protocol error);
//              a thrown RespLimitError: close at once (a resource bound was hit).
//
// Requests: the multibulk form only (`*N\r\n$len\r\n<bytes>\r\n…`); `*0`/`*-1` are
// skipped as Redis does; anything else (inline commands included) is a protocol
// error: `-ERR Protocol error: …` is replied and the connection closed.
// Commands: PING [msg], SET key value (no options), GET key, CONFIG GET name…
// (`save` and `appendonly`, what redis-benchmark asks for at start: it needs each
// reply to be a [name, value] array, as redis-server sends, else it prints
// "WARNING: Could not fetch server CONFIG"; an empty array is not enough), and
// `-ERR unknown command …` (Redis 7's wording) for anything else.
//
// What makes it a fair "as fast as the runtime allows" baseline:
// - one pass over each read batch; all replies go into ONE output buffer that is
//   reused batch after batch (the server writes it once per read), grown by
//   doubling, never concatenated per command;
// - command names are matched on the bytes, without making strings; keys become
//   latin1 strings (one char per byte: binary-safe and injective, so a fine Map
//   key) through the runtime's native slicer; values are copied once into a
//   buffer of their exact size (the read buffer is not ours to keep);
// - a command split across reads at any byte is resumed where the previous read
//   stopped (the argument offsets parsed so far are kept), so a huge command
//   arriving in many reads is not re-scanned from its start each time;
// - the unparsed input held per connection is bounded (MAX_PENDING, as Redis's
//   client-query-buffer-limit), and so are one batch's replies (MAX_BATCH_OUTPUT),
//   the argument count (MAX_ARGS) and the length digits, so the baseline pays
//   for the checks a real server needs.

/** Unparsed input held per connection before it is closed (Redis: client-query-buffer-limit, 1 GiB). */
export const MAX_PENDING = 64 * 1024 * 1024
/** Replies of one read batch before the connection is closed (many GETs of a big value). */
export const MAX_BATCH_OUTPUT = 64 * 1024 * 1024
/** Arguments of one command (Redis's limit for an unauthenticated client is 1024 × 1024 too). */
export const MAX_ARGS = 1024 * 1024

/** The runtimes read into buffers of this size; the input buffer starts there (and the Deno reads go into it). */
const READ_SIZE = 64 * 1024
const OUT_INITIAL = 16 * 1024
/** Input/output buffers grown above this by a big command or reply are replaced by small ones afterwards. */
const KEEP_BUFFER = 1024 * 1024
/** Copies of at most this many bytes are done by a loop: cheaper than `set` + `subarray` for tiny values. */
const SMALL_COPY = 32

/** A resource bound was hit: the server closes the connection without a reply (as Redis does). */
export class RespLimitError extends Error {}

/** `--port N --host H` (the runner's server contract). Returns options or an error string. */
export function parseServerArgs(argv) {
  const opts = { port: 0, host: "127.0.0.1" }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]
    const value = argv[i + 1]
    if (value === undefined) return `missing value for ${key}`
    if (key === "--port") opts.port = Number(value)
    else if (key === "--host") opts.host = value
    else return `unknown option ${key}`
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) return "bad --port"
  return opts
}

/** The keyspace: latin1 key string → value bytes. One per server process, shared by its connections. */
export const makeStore = () => new Map()

const bytes = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0))
const OK = bytes("+OK\r\n")
const PONG = bytes("+PONG\r\n")
const NIL = bytes("$-1\r\n")

/** CONFIG GET answers: this server has no persistence. */
const CONFIG = new Map([["save", ""], ["appendonly", "no"]])

const CR = 13
const LF = 10
const STAR = 42 // *
const DOLLAR = 36 // $

// readInt's results besides a value >= -1, and where the CRLF after it ended
const INCOMPLETE = -2
const BAD = -3
let intEnd = 0

/**
 * The integer of a `*N` / `$N` header line starting at `p` (after the type byte), up to its
 * CRLF: a value >= 0, or -1 for "-1"; INCOMPLETE if the CRLF is not within `end` yet; BAD
 * otherwise. At most 10 digits, so a line without CRLF is rejected after a few bytes instead of
 * being buffered, and the value stays exact.
 */
function readInt(buf, p, end) {
  let v = 0
  let digits = 0
  let neg = false
  if (p < end && buf[p] === 45) { // -
    neg = true
    p++
  }
  for (; p < end; p++) {
    const c = buf[p]
    if (c === CR) {
      if (p + 1 >= end) return INCOMPLETE
      if (buf[p + 1] !== LF || digits === 0) return BAD
      intEnd = p + 2
      if (!neg) return v
      return v === 1 ? -1 : BAD
    }
    const d = c - 48
    if (d < 0 || d > 9 || digits === 10) return BAD
    v = v * 10 + d
    digits++
  }
  return INCOMPLETE
}

/** Lower-case ASCII byte compare of buf[s..s+word.length) with `word` (lower-case). */
function isWord(buf, s, len, word) {
  if (len !== word.length) return false
  for (let i = 0; i < len; i++) if ((buf[s + i] | 0x20) !== word.charCodeAt(i)) return false
  return true
}

/**
 * One connection's protocol state. `host` is what differs per runtime:
 * - `latin1(buf, start, end)`: the bytes as a one-char-per-byte string (the runtimes' native
 *   `Buffer.prototype.latin1Slice` is 2× faster than building it in JavaScript);
 * - `alloc(n)`: a Uint8Array of n bytes, contents unspecified (values are copied into these:
 *   Node's and Deno's pooled `Buffer.allocUnsafe` is fast for small sizes, a plain
 *   `new Uint8Array` costs ~0.85 µs on Deno; on Bun `new Uint8Array` is the fastest).
 */
export class RespSession {
  constructor(store, host) {
    this.store = store
    this.latin1 = host.latin1
    this.alloc = host.alloc
    /** Set when a protocol error was replied: the server writes the output, then closes. */
    this.error = null
    // input not parsed yet (always starting with the command being completed), and its size
    this.inbuf = host.alloc(READ_SIZE)
    this.fill = 0
    // a command cut by the end of the input: its declared argument count (0 = none), the
    // arguments complete so far (offsets relative to the command's start meanwhile), and
    // where to go on (relative too)
    this.partN = 0
    this.partArgs = 0
    this.partOff = 0
    this.starts = new Int32Array(16)
    this.ends = new Int32Array(16)
    this.out = host.alloc(OUT_INITIAL)
    this.o = 0
  }

  /**
   * Node, Bun: a chunk the runtime read (ours to read now, not to keep). Parses it in place
   * when nothing is pending (the common case); else appends it to the pending input first.
   * Returns the replies of every command it completed, or null.
   */
  push(chunk) {
    if (this.error !== null) return null // closing: what follows a protocol error is not read
    this.startBatch()
    const len = chunk.length
    if (this.fill === 0) {
      const used = this.parse(chunk, 0, len)
      const rest = len - used
      if (rest > 0 && this.error === null) {
        this.ensureIn(rest)
        this.copyIn(chunk, used, len, 0)
        this.fill = rest
      }
    } else {
      this.ensureIn(this.fill + len)
      this.copyIn(chunk, 0, len, this.fill)
      this.fill += len
      this.afterRead()
    }
    return this.o === 0 ? null : this.out.subarray(0, this.o)
  }

  /** Deno: where to read next: the free end of the input buffer (doubled when nearly full). */
  readBuffer() {
    this.ensureIn(this.fill + 4096)
    return this.fill === 0 ? this.inbuf : this.inbuf.subarray(this.fill)
  }

  /** Deno: `n` bytes were read into readBuffer(). Returns the replies, or null. */
  commit(n) {
    if (this.error !== null) return null
    this.startBatch()
    this.fill += n
    this.afterRead()
    return this.o === 0 ? null : this.out.subarray(0, this.o)
  }

  startBatch() {
    this.o = 0
    // a batch of big replies grew the output buffer: do not keep that much per idle connection
    if (this.out.length > KEEP_BUFFER) this.out = this.alloc(OUT_INITIAL)
  }

  /**
   * The output last returned is still owned by a write the runtime has not finished
   * (node:net queued it): the next batch must go into a new buffer.
   */
  releaseOutput() {
    this.out = this.alloc(OUT_INITIAL)
  }

  /** Parses the pending input and moves what is left (a cut command) to its front. */
  afterRead() {
    const fill = this.fill
    const used = this.parse(this.inbuf, 0, fill)
    if (used > 0 && used < fill) this.inbuf.copyWithin(0, used, fill)
    this.fill = fill - used
    if (this.fill > MAX_PENDING) throw new RespLimitError("pending input above the limit")
    // a big command grew the input buffer: shrink it once it is consumed
    if (this.fill === 0 && this.inbuf.length > KEEP_BUFFER) this.inbuf = this.alloc(READ_SIZE)
  }

  /** Room for `size` bytes of input, doubling (amortized linear copying for a command arriving in many reads). */
  ensureIn(size) {
    if (size <= this.inbuf.length) return
    // before the copy: the input held is bounded, a client that never completes its command is closed
    if (size > MAX_PENDING + READ_SIZE) throw new RespLimitError("pending input above the limit")
    const next = this.alloc(Math.min(Math.max(size, this.inbuf.length * 2), MAX_PENDING + READ_SIZE))
    if (this.fill > 0) next.set(this.inbuf.subarray(0, this.fill), 0)
    this.inbuf = next
  }

  copyIn(src, from, to, at) {
    if (to - from <= SMALL_COPY) {
      const dst = this.inbuf
      for (let i = from; i < to; i++) dst[at++] = src[i]
    } else {
      this.inbuf.set(from === 0 && to === src.length ? src : src.subarray(from, to), at)
    }
  }

  /**
   * Runs every complete command of buf[start..end). Returns where the unconsumed input starts
   * (a cut command, whose progress is kept in part*), or where parsing stopped at a protocol
   * error (this.error set, the error reply written).
   */
  parse(buf, start, end) {
    let c = start // start of the current command
    let p = start
    let n = 0
    let a = 0
    if (this.partN > 0) { // resume the cut command: it starts at `start` now
      n = this.partN
      a = this.partArgs
      p = start + this.partOff
      if (start !== 0) { // (0 in practice: the pending input starts the input buffer)
        for (let i = 0; i < a; i++) {
          this.starts[i] += start
          this.ends[i] += start
        }
      }
      this.partN = 0
    }
    for (;;) {
      if (n === 0) {
        if (p >= end) return p
        if (buf[p] !== STAR) return this.protocolError(p, `expected '*', got '${printable(buf[p])}'`)
        const count = readInt(buf, p + 1, end)
        if (count === INCOMPLETE) return p
        if (count === BAD || count > MAX_ARGS) return this.protocolError(p, "invalid multibulk length")
        p = intEnd
        if (count <= 0) { // *0 / *-1: nothing to run
          c = p
          continue
        }
        n = count
        a = 0
      }
      while (a < n) {
        if (p >= end) return this.cut(c, p, n, a)
        if (buf[p] !== DOLLAR) return this.protocolError(p, `expected '$', got '${printable(buf[p])}'`)
        const len = readInt(buf, p + 1, end)
        if (len === INCOMPLETE) return this.cut(c, p, n, a)
        if (len < 0 || len > MAX_PENDING) return this.protocolError(p, "invalid bulk length")
        const d = intEnd
        if (end - d < len + 2) return this.cut(c, p, n, a)
        if (buf[d + len] !== CR || buf[d + len + 1] !== LF) {
          return this.protocolError(p, "expected CRLF after a bulk string")
        }
        if (a === this.starts.length) this.growArgs()
        this.starts[a] = d
        this.ends[a] = d + len
        a++
        p = d + len + 2
      }
      this.run(buf, n)
      n = 0
      c = p
    }
  }

  /** Keeps the progress of the command starting at `c`, cut at `p` after `a` of its `n` arguments. */
  cut(c, p, n, a) {
    this.partN = n
    this.partArgs = a
    this.partOff = p - c
    // relative offsets: the command moves to the front of the input buffer. Skipped when it is
    // there already (every read after the first of a long command), so resuming costs nothing per
    // argument already parsed
    if (c !== 0) {
      for (let i = 0; i < a; i++) {
        this.starts[i] -= c
        this.ends[i] -= c
      }
    }
    return c
  }

  growArgs() {
    const size = Math.min(this.starts.length * 2, MAX_ARGS)
    const s = new Int32Array(size)
    const e = new Int32Array(size)
    s.set(this.starts)
    e.set(this.ends)
    this.starts = s
    this.ends = e
  }

  /** Runs one complete command of `n` arguments (offsets in starts/ends). */
  run(buf, n) {
    const s0 = this.starts[0]
    const len0 = this.ends[0] - s0
    if (len0 === 3) {
      const c0 = buf[s0] | 0x20
      if (c0 === 0x73 && (buf[s0 + 1] | 0x20) === 0x65 && (buf[s0 + 2] | 0x20) === 0x74) { // set
        if (n !== 3) return n < 3 ? this.wrongArity("set") : this.putError("ERR syntax error")
        const vs = this.starts[2]
        const ve = this.ends[2]
        const value = this.alloc(ve - vs)
        if (ve - vs <= SMALL_COPY) { for (let i = vs, j = 0; i < ve; i++, j++) value[j] = buf[i] }
        else value.set(buf.subarray(vs, ve), 0)
        this.store.set(this.latin1(buf, this.starts[1], this.ends[1]), value)
        return this.putConst(OK)
      }
      if (c0 === 0x67 && (buf[s0 + 1] | 0x20) === 0x65 && (buf[s0 + 2] | 0x20) === 0x74) { // get
        if (n !== 2) return this.wrongArity("get")
        const value = this.store.get(this.latin1(buf, this.starts[1], this.ends[1]))
        return value === undefined ? this.putConst(NIL) : this.putBulk(value, 0, value.length)
      }
    } else if (isWord(buf, s0, len0, "ping")) {
      if (n === 1) return this.putConst(PONG)
      if (n === 2) return this.putBulk(buf, this.starts[1], this.ends[1])
      return this.wrongArity("ping")
    } else if (isWord(buf, s0, len0, "config")) {
      return this.config(buf, n)
    }
    return this.unknownCommand(buf, n)
  }

  /** CONFIG GET name… → [name, value, …] for the names it knows (exact names, no globs). */
  config(buf, n) {
    if (n < 2) return this.wrongArity("config")
    if (!isWord(buf, this.starts[1], this.ends[1] - this.starts[1], "get")) {
      return this.putError(`ERR unknown subcommand '${this.text(buf, 1)}'. Try CONFIG HELP.`)
    }
    if (n < 3) return this.wrongArity("config|get")
    const found = []
    for (let i = 2; i < n; i++) {
      const name = this.latin1(buf, this.starts[i], this.ends[i]).toLowerCase()
      if (CONFIG.has(name) && !found.includes(name)) found.push(name)
    }
    this.putHeader(STAR, found.length * 2)
    for (const name of found) {
      const v = CONFIG.get(name)
      this.putHeader(DOLLAR, name.length)
      this.putText(name + "\r\n")
      this.putHeader(DOLLAR, v.length)
      this.putText(v + "\r\n")
    }
  }

  /** Redis 7's wording: `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `. */
  unknownCommand(buf, n) {
    let args = ""
    for (let i = 1; i < n && args.length < 128; i++) args += `'${this.text(buf, i).slice(0, 128 - args.length)}' `
    return this.putError(`ERR unknown command '${this.text(buf, 0).slice(0, 128)}', with args beginning with: ${args}`)
  }

  wrongArity(name) {
    return this.putError(`ERR wrong number of arguments for '${name}' command`)
  }

  /** Argument `i` as text for an error message (at most 128 chars, CR/LF made spaces as Redis does). */
  text(buf, i) {
    const s = this.starts[i]
    return this.latin1(buf, s, Math.min(this.ends[i], s + 128)).replace(/[\r\n]/g, " ")
  }

  /** Stops at a malformed request: `-ERR Protocol error: …`, then the server closes. */
  protocolError(p, why) {
    this.error = why
    this.partN = 0
    this.putError(`ERR Protocol error: ${why}`)
    return p
  }

  // --- output: everything goes into this.out at this.o ---

  ensureOut(k) {
    const need = this.o + k
    if (need <= this.out.length) return
    if (need > MAX_BATCH_OUTPUT) throw new RespLimitError("replies of one read above the limit")
    const next = this.alloc(Math.min(Math.max(need, this.out.length * 2), MAX_BATCH_OUTPUT))
    if (this.o > 0) next.set(this.out.subarray(0, this.o), 0)
    this.out = next
  }

  putConst(b) {
    this.ensureOut(b.length)
    const out = this.out
    let o = this.o
    for (let i = 0; i < b.length; i++) out[o++] = b[i]
    this.o = o
  }

  /** `$<len>\r\n<bytes>\r\n` from src[s..e). */
  putBulk(src, s, e) {
    const len = e - s
    this.ensureOut(len + 16)
    this.putHeader(DOLLAR, len)
    const out = this.out
    let o = this.o
    if (len <= SMALL_COPY) { for (let i = s; i < e; i++) out[o++] = src[i] }
    else {
      out.set(s === 0 && e === src.length ? src : src.subarray(s, e), o)
      o += len
    }
    out[o] = CR
    out[o + 1] = LF
    this.o = o + 2
  }

  /** `<type><n>\r\n` for 0 <= n < 2^31, digits written in place (no string). */
  putHeader(type, n) {
    this.ensureOut(14)
    const out = this.out
    let o = this.o
    out[o++] = type
    if (n < 10) out[o++] = 48 + n
    else {
      let digits = 1
      for (let t = (n / 10) | 0; t > 0; t = (t / 10) | 0) digits++
      o += digits
      for (let at = o - 1, v = n; at >= o - digits; at--) {
        const q = (v / 10) | 0
        out[at] = 48 + v - q * 10
        v = q
      }
    }
    out[o] = CR
    out[o + 1] = LF
    this.o = o + 2
  }

  /** A latin1 string, as is. */
  putText(s) {
    this.ensureOut(s.length)
    const out = this.out
    let o = this.o
    for (let i = 0; i < s.length; i++) out[o++] = s.charCodeAt(i) & 0xff
    this.o = o
  }

  putError(message) {
    this.putText(`-${message}\r\n`)
  }
}

const printable = (
  b
) => (b >= 0x20 && b < 0x7f && b !== 0x27 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)
