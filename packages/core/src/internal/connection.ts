import { Effect } from "effect"
import type { Address } from "../Address.ts"
import type {
  Connection as ConnectionT,
  ConnectionErrorReason,
  ConnectionOptions,
  ConnectionStats,
  PumpOptions
} from "../Connection.ts"
import { ConnectionError, defaults, EOF } from "../Connection.ts"
import type { SocketDriver, SocketEvents } from "../Driver.ts"
import type { ProxyInfo } from "../ProxyProtocol.ts"
import type { StartTlsOptions, TlsError, TlsInfo } from "../Tls.ts"
import type { Upgrade } from "./startTls.ts"
import {
  DONE,
  FLUSHING,
  HANDSHAKING,
  HoldingDriver,
  isTlsError,
  timeoutOf,
  upgradeError,
  whenFlushed
} from "./startTls.ts"

let nextId = 1

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/**
 * The state machine behind every transport's connections. Adapters feed it
 * events (data, end, error, drain, close) and give it a driver to act on the
 * socket; it implements buffering, backpressure, EOF, errors and close for all
 * runtimes alike. No fiber and no Effect allocation per chunk beyond the
 * `succeed` that hands the chunk to the reader.
 */
export class ConnectionImpl implements ConnectionT, SocketEvents {
  readonly id = nextId++

  private driver!: SocketDriver
  private readonly readHWM: number
  private readonly closeTimeout: number
  // read side
  private queue: Array<Uint8Array> = []
  private head = 0
  private queued = 0
  private eof = false
  private readError: ConnectionError | undefined
  private readWaiter: (() => void) | undefined
  private paused = false
  private bytesRead = 0
  // push mode (pump): the consumer called from data events
  private pushFn: ((chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, any, any> | undefined | void) | undefined
  /** The waiting pump fiber's resume, and the step it goes on with. */
  private pushResume: ((effect: Effect.Effect<void, any, any>) => void) | undefined
  private pushStep: Effect.Effect<void, any, any> | undefined
  private pushBorrow = false
  private clearPushEffect: Effect.Effect<void> | undefined = undefined
  // write side
  private bytesWritten = 0
  private reads = 0
  private writes = 0
  private writeState: "open" | "ending" | "ended" = "open"
  private writeErrorValue: ConnectionError | undefined
  private needDrain = false
  private drainWaiters: Array<() => void> = []
  private endWaiters: Array<Resume<void, ConnectionError>> = []
  private endResult: Effect.Effect<void, ConnectionError> | undefined
  // lifecycle
  private closing = false
  private isClosed = false
  private closeWaiters: Array<() => void> = []
  private closeTimer: ReturnType<typeof setTimeout> | undefined
  // The Effects and functions of the interface are made on first use: a
  // connection waiting for its peer (most of them, on a busy server) holds none.
  private readEffect: Effect.Effect<Uint8Array | EOF, ConnectionError> | undefined = undefined
  private readManyEffect: Effect.Effect<ReadonlyArray<Uint8Array> | EOF, ConnectionError> | undefined = undefined
  private endEffect: Effect.Effect<void, ConnectionError> | undefined = undefined
  private closeEffect: Effect.Effect<void> | undefined = undefined
  private abortEffect: Effect.Effect<void> | undefined = undefined
  private closedEffect: Effect.Effect<void> | undefined = undefined
  private statsEffect: Effect.Effect<ConnectionStats> | undefined = undefined
  private awaitDrainEffect: Effect.Effect<void, ConnectionError> | undefined = undefined
  private awaitWritableEffect: Effect.Effect<void, ConnectionError> | undefined = undefined
  private writeFn: ((data: Uint8Array) => Effect.Effect<void, ConnectionError>) | undefined = undefined
  private writeAllFn: ((chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError>) | undefined =
    undefined
  private unsafeWriteFn: ((data: Uint8Array) => boolean) | undefined = undefined
  private unsafeWriteAllFn: ((chunks: ReadonlyArray<Uint8Array>) => boolean) | undefined = undefined
  private unsafeWriteBufferedFn: (() => number) | undefined = undefined
  private unsafeStatsFn: (() => ConnectionStats) | undefined = undefined
  private pumpFnOf: ConnectionT["pump"] | undefined = undefined
  /** The TLS session: from the start, or once a STARTTLS upgrade succeeded. */
  private tlsInfo: TlsInfo | undefined
  /** The STARTTLS upgrade, once one began. */
  private upgrade: Upgrade | undefined = undefined

  /** Set by a listener that read a PROXY protocol header (see {@link proxied}); absent otherwise. */
  declare proxy?: ProxyInfo | undefined

  constructor(
    // replaced once, by the client's addresses from a PROXY protocol header (see `proxied`)
    public localAddress: Address,
    public remoteAddress: Address,
    options: ConnectionOptions | undefined,
    tls?: TlsInfo | undefined
  ) {
    this.readHWM = options?.readHighWaterMark ?? defaults.readHighWaterMark
    this.closeTimeout = options?.closeTimeout ?? defaults.closeTimeout
    this.tlsInfo = tls
  }

  get tls(): TlsInfo | undefined {
    return this.tlsInfo
  }

  get startTls(): (options: StartTlsOptions) => Effect.Effect<TlsInfo, TlsError | ConnectionError> {
    return (options) => this.doStartTls(options)
  }

  /** Whether the transport can upgrade this connection (STARTTLS) and it is plain and open. */
  canStartTls(): boolean {
    return this.driver.startTls !== undefined && this.tlsInfo === undefined && this.upgrade === undefined &&
      this.writeCheck() === undefined
  }

  get read(): Effect.Effect<Uint8Array | EOF, ConnectionError> {
    if (this.readEffect !== undefined) return this.readEffect
    const readOne: Effect.Effect<Uint8Array | EOF, ConnectionError> = Effect.suspend(() => {
      if (this.head < this.queue.length) return Effect.succeed(this.takeOne())
      return this.readEnded() ?? this.awaitData(readOne)
    })
    return (this.readEffect = readOne)
  }

  get readMany(): Effect.Effect<ReadonlyArray<Uint8Array> | EOF, ConnectionError> {
    if (this.readManyEffect !== undefined) return this.readManyEffect
    const readBatch: Effect.Effect<ReadonlyArray<Uint8Array> | EOF, ConnectionError> = Effect.suspend(() => {
      if (this.head < this.queue.length) return Effect.succeed(this.takeAll())
      return this.readEnded() ?? this.awaitData(readBatch)
    })
    return (this.readManyEffect = readBatch)
  }

  get end(): Effect.Effect<void, ConnectionError> {
    return this.endEffect ??= Effect.async<void, ConnectionError>((resume) => {
      this.doEnd(resume)
    })
  }

  get close(): Effect.Effect<void> {
    return this.closeEffect ??= Effect.async<void>((resume) => {
      this.doClose(() => resume(Effect.void))
    })
  }

  get abort(): Effect.Effect<void> {
    return this.abortEffect ??= Effect.sync(() => this.doAbort())
  }

  get closed(): Effect.Effect<void> {
    return this.closedEffect ??= Effect.async<void>((resume) => {
      if (this.isClosed) return resume(Effect.void)
      this.closeWaiters.push(() => resume(Effect.void))
    })
  }

  get stats(): Effect.Effect<ConnectionStats> {
    return this.statsEffect ??= Effect.sync(() => this.doStats())
  }

  get awaitWritable(): Effect.Effect<void, ConnectionError> {
    return this.awaitWritableEffect ??= Effect.suspend(() => {
      if (this.writeError) return Effect.fail(this.writeError)
      return this.needDrain ? this.awaitDrain() : Effect.void
    })
  }

  get write(): (data: Uint8Array) => Effect.Effect<void, ConnectionError> {
    return this.writeFn ??= (data) => this.doWrite(data)
  }

  get writeAll(): (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, ConnectionError> {
    return this.writeAllFn ??= (chunks) => this.doWriteAll(chunks)
  }

  get unsafeWrite(): (data: Uint8Array) => boolean {
    return this.unsafeWriteFn ??= (data) => this.doUnsafeWrite(data)
  }

  get unsafeWriteAll(): (chunks: ReadonlyArray<Uint8Array>) => boolean {
    return this.unsafeWriteAllFn ??= (chunks) => this.doUnsafeWriteAll(chunks)
  }

  get unsafeWriteBuffered(): () => number {
    return this.unsafeWriteBufferedFn ??= () => (this.isClosed ? 0 : this.driver.writeBuffered())
  }

  get unsafeStats(): () => ConnectionStats {
    return this.unsafeStatsFn ??= () => this.doStats()
  }

  get pump(): ConnectionT["pump"] {
    return this.pumpFnOf ??= (onData, options) => this.doPump(onData, options)
  }

  private awaitData<A>(again: Effect.Effect<A, ConnectionError>): Effect.Effect<A, ConnectionError> {
    return Effect.async<A, ConnectionError>((resume) => {
      this.readWaiter = () => resume(again)
      return Effect.sync(() => {
        this.readWaiter = undefined
      })
    })
  }

  /** Called once by `Driver.makeConnection`. */
  attach(driver: SocketDriver): void {
    this.driver = driver
  }

  /**
   * A PROXY protocol header was read (internal/proxyListener.ts), before the
   * connection is handed out: the addresses become the client's, the
   * socket's stay in `proxy`, and `rest`, the bytes of the last read past the
   * header, goes back in front of whatever came after it.
   */
  proxied(proxy: ProxyInfo, local: Address, remote: Address, rest: Uint8Array): void {
    this.proxy = proxy
    this.localAddress = local
    this.remoteAddress = remote
    if (rest.length === 0) return
    if (this.head > 0) this.queue[--this.head] = rest
    else this.queue.unshift(rest)
    this.queued += rest.length
  }

  // ---- reader internals -------------------------------------------------

  private readEnded(): Effect.Effect<EOF, ConnectionError> | undefined {
    if (this.readError) return Effect.fail(this.readError)
    if (this.eof || this.isClosed || this.closing) return Effect.succeed(EOF)
    return undefined
  }

  private takeOne(): Uint8Array {
    const chunk = this.queue[this.head]!
    this.queue[this.head++] = undefined as unknown as Uint8Array
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    }
    this.queued -= chunk.length
    this.maybeResume()
    return chunk
  }

  private takeAll(): ReadonlyArray<Uint8Array> {
    const out = this.head === 0 ? this.queue : this.queue.slice(this.head)
    this.queue = []
    this.head = 0
    this.queued = 0
    this.maybeResume()
    return out
  }

  private maybeResume(): void {
    if (this.paused && this.queued <= this.readHWM >>> 1 && !this.isClosed) {
      this.paused = false
      this.driver.resume()
    }
  }

  private wakeReader(): void {
    const w = this.readWaiter
    if (w !== undefined) {
      this.readWaiter = undefined
      w()
    } else if (this.pushResume !== undefined) {
      this.resumePush(this.pushStep!)
    }
  }

  /** Leaves push mode and resumes the pump's fiber with `effect`. */
  private resumePush(effect: Effect.Effect<void, any, any>): void {
    const resume = this.pushResume!
    this.clearPush()
    resume(effect)
  }

  private clearPush(): void {
    this.pushFn = undefined
    this.pushResume = undefined
    this.pushStep = undefined
    this.pushBorrow = false
    this.readWaiter = undefined
  }

  // ---- SocketEvents (called by adapters) --------------------------------

  data(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.isClosed) return
    const upgrade = this.upgrade
    if (upgrade !== undefined && upgrade.phase === FLUSHING) {
      // plain text sent after the upgrade command: never delivered (see startTls)
      upgrade.discarded += chunk.length
      return
    }
    this.reads++
    const push = this.pushFn
    if (push !== undefined) {
      this.bytesRead += chunk.length
      let next: Effect.Effect<void, any, any> | undefined | void
      try {
        next = push([chunk])
      } catch (defect) {
        next = Effect.die(defect)
      }
      if (next !== undefined) this.resumePush(Effect.zipRight(next, this.pushStep!))
      else if (this.needDrain) this.wakeReader()
      return
    }
    this.queue.push(chunk)
    this.queued += chunk.length
    this.bytesRead += chunk.length
    if (!this.paused && this.queued >= this.readHWM) {
      this.paused = true
      this.driver.pause()
    }
    this.wakeReader()
  }

  borrows(): boolean {
    return this.pushBorrow && this.pushFn !== undefined && !this.isClosed
  }

  readEnd(): void {
    this.eof = true
    this.wakeReader()
  }

  error(reason: ConnectionErrorReason, code?: string, cause?: unknown): void {
    if (this.isClosed) return
    const make = (operation: "read" | "write") =>
      new ConnectionError({ reason, operation, remoteAddress: this.remoteAddress, code, cause })
    if (!this.readError && !this.eof) this.readError = make("read")
    if (!this.writeError) this.writeError = make("write")
    this.wakeReader()
    this.releaseWriters()
    // before the handshake the socket failed in plain text (during it, the adapter reports the typed failure)
    const upgrade = this.upgrade
    if (upgrade !== undefined && upgrade.phase === FLUSHING) {
      this.finishUpgrade(
        upgrade,
        upgradeError(
          upgrade.options,
          this.remoteAddress,
          code ?? "ECONNRESET",
          "the connection failed before the TLS handshake"
        )
      )
    }
  }

  drain(): void {
    this.needDrain = false
    const ws = this.drainWaiters
    if (ws.length === 0) return
    this.drainWaiters = []
    for (const w of ws) w()
  }

  closedByRuntime(): void {
    if (this.isClosed) return
    this.isClosed = true
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer)
    this.wakeReader()
    this.releaseWriters()
    const upgrade = this.upgrade
    if (upgrade !== undefined && upgrade.phase !== DONE) {
      this.finishUpgrade(
        upgrade,
        upgradeError(upgrade.options, this.remoteAddress, "ECONNRESET", "the connection closed during the TLS upgrade")
      )
    }
    const ws = this.closeWaiters
    this.closeWaiters = []
    for (const w of ws) w()
  }

  private releaseWriters(): void {
    this.needDrain = false
    this.drain()
    const ends = this.endWaiters
    if (ends.length > 0 && this.writeState !== "ended") {
      this.endResult = Effect.fail(this.writeError ?? this.closedError("end"))
      this.endWaiters = []
      for (const r of ends) r(this.endResult)
    }
  }

  // ---- writer -----------------------------------------------------------

  /**
   * Why writes fail from now on, if they do: the first error, else `Closed`
   * once the runtime closed the socket. That one is made when first asked
   * for, not at the close: an error captures a stack trace, and most
   * connections close with no writer left to see it.
   */
  private get writeError(): ConnectionError | undefined {
    if (this.writeErrorValue === undefined && this.isClosed) this.writeErrorValue = this.closedError("write")
    return this.writeErrorValue
  }

  private set writeError(error: ConnectionError | undefined) {
    this.writeErrorValue = error
  }

  private closedError(operation: "write" | "end"): ConnectionError {
    return new ConnectionError({ reason: "Closed", operation, remoteAddress: this.remoteAddress })
  }

  private awaitDrain(): Effect.Effect<void, ConnectionError> {
    return this.awaitDrainEffect ??= Effect.async<void, ConnectionError>((resume) => {
      if (!this.needDrain) return resume(this.writeError ? Effect.fail(this.writeError) : Effect.void)
      this.drainWaiters.push(() => resume(this.writeError ? Effect.fail(this.writeError) : Effect.void))
    })
  }

  private writeCheck(): ConnectionError | undefined {
    if (this.writeError) return this.writeError
    if (this.writeState !== "open" || this.closing || this.isClosed) return this.closedError("write")
    return undefined
  }

  private doWrite(data: Uint8Array): Effect.Effect<void, ConnectionError> {
    return Effect.suspend(() => {
      const err = this.writeCheck()
      if (err) return Effect.fail(err)
      this.bytesWritten += data.length
      this.writes++
      if (this.driver.write(data)) return Effect.void
      this.needDrain = true
      return this.awaitDrain()
    })
  }

  private doWriteAll(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, ConnectionError> {
    return Effect.suspend(() => {
      const err = this.writeCheck()
      if (err) return Effect.fail(err)
      if (chunks.length === 0) return Effect.void
      let ok: boolean
      this.writes++
      if (chunks.length === 1) {
        this.bytesWritten += chunks[0]!.length
        ok = this.driver.write(chunks[0]!)
      } else {
        for (const c of chunks) this.bytesWritten += c.length
        ok = this.driver.writev(chunks)
      }
      if (ok) return Effect.void
      this.needDrain = true
      return this.awaitDrain()
    })
  }

  private doUnsafeWrite(data: Uint8Array): boolean {
    if (this.writeCheck() !== undefined) return false
    this.bytesWritten += data.length
    this.writes++
    if (this.driver.write(data)) return true
    this.needDrain = true
    return false
  }

  private doUnsafeWriteAll(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (chunks.length === 1) return this.doUnsafeWrite(chunks[0]!)
    if (this.writeCheck() !== undefined) return false
    if (chunks.length === 0) return true
    for (const c of chunks) this.bytesWritten += c.length
    this.writes++
    if (this.driver.writev(chunks)) return true
    this.needDrain = true
    return false
  }

  private doPump<E, R>(
    onData: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, E, R> | undefined | void,
    options?: PumpOptions
  ): Effect.Effect<void, E | ConnectionError, R> {
    const borrow = options?.borrow === true
    const step: Effect.Effect<void, E | ConnectionError, R> = Effect.suspend(() => {
      // pull mode: deliver what is buffered, honouring write backpressure
      while (true) {
        if (this.needDrain) return Effect.zipRight(this.awaitDrain(), step)
        if (this.head >= this.queue.length) break
        const next = onData(this.takeAll())
        if (next !== undefined) return Effect.zipRight(next, step)
      }
      const ended = this.readEnded()
      if (ended !== undefined) return Effect.asVoid(ended)
      // switch to push mode until something needs the fiber (data events,
      // the end, an error or a drain resume it through `resumePush`)
      return Effect.async<void, E | ConnectionError, R>((resume) => {
        this.pushFn = onData
        this.pushBorrow = borrow
        this.pushResume = resume as (effect: Effect.Effect<void, any, any>) => void
        this.pushStep = step
        return this.clearPushEffect ??= Effect.sync(() => this.clearPush())
      })
    })
    return step
  }

  private doEnd(resume: Resume<void, ConnectionError>): void {
    if (this.closing || this.isClosed) return resume(Effect.fail(this.writeError ?? this.closedError("end")))
    this.startEnd(resume)
  }

  /** Sends FIN once, after pending writes; every caller is told the outcome. */
  private startEnd(resume: Resume<void, ConnectionError>): void {
    if (this.endResult) return resume(this.endResult)
    this.endWaiters.push(resume)
    if (this.writeState !== "open") return
    if (this.writeError) return this.releaseWriters()
    this.writeState = "ending"
    this.driver.end((error) => {
      if (error) {
        if (!this.writeError) this.writeError = error
        this.releaseWriters()
        return
      }
      this.writeState = "ended"
      this.endResult = Effect.void
      const ws = this.endWaiters
      this.endWaiters = []
      for (const w of ws) w(Effect.void)
    })
  }

  private doClose(done: () => void): void {
    if (this.isClosed) return done()
    this.closeWaiters.push(done)
    if (this.closing) return
    this.closing = true
    this.wakeReader()
    this.closeTimer = setTimeout(() => this.driver.reset(), this.closeTimeout)
    // flush and FIN (or learn that it failed), then release the socket
    this.startEnd(() => this.driver.destroy())
  }

  private doAbort(): void {
    if (this.isClosed) return
    this.closing = true
    this.driver.reset()
  }

  private doStats(): ConnectionStats {
    return {
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      readBuffered: this.queued,
      writeBuffered: this.isClosed ? 0 : this.driver.writeBuffered(),
      readPaused: this.paused,
      reads: this.reads,
      writes: this.writes,
      discardedOnUpgrade: this.upgrade?.discarded ?? 0
    }
  }

  // ---- STARTTLS -----------------------------------------------------------

  private doStartTls(options: StartTlsOptions): Effect.Effect<TlsInfo, TlsError | ConnectionError> {
    return Effect.suspend((): Effect.Effect<TlsInfo, TlsError | ConnectionError> => {
      const closed = this.writeCheck()
      if (closed !== undefined) return Effect.fail(closed)
      if (this.tlsInfo !== undefined || this.upgrade !== undefined) {
        return Effect.fail(
          upgradeError(
            options,
            this.remoteAddress,
            "EALREADY",
            this.tlsInfo !== undefined ? "the connection already speaks TLS" : "an upgrade to TLS is already under way"
          )
        )
      }
      if (this.driver.startTls === undefined) {
        return Effect.fail(
          upgradeError(
            options,
            this.remoteAddress,
            "ENOTSUP",
            "this transport cannot upgrade a connection to TLS (STARTTLS)"
          )
        )
      }
      const timeout = timeoutOf(options)
      const upgrade: Upgrade = {
        phase: FLUSHING,
        options,
        holding: new HoldingDriver(this.driver),
        discarded: 0,
        outcome: undefined,
        resume: undefined,
        stopFlush: undefined
      }
      // at once, before anything else can run: reading stops, later writes wait
      this.beginUpgrade(upgrade)
      const outcome = Effect.async<TlsInfo, TlsError>((resume) => {
        const settled = (o: TlsInfo | TlsError) => resume(isTlsError(o) ? Effect.fail(o) : Effect.succeed(o))
        if (upgrade.outcome !== undefined) return settled(upgrade.outcome)
        upgrade.resume = settled
        return Effect.sync(() => {
          upgrade.resume = undefined
        })
      })
      const timedOut = () =>
        upgradeError(
          options,
          this.remoteAddress,
          "ERR_TLS_HANDSHAKE_TIMEOUT",
          `the upgrade did not finish within ${timeout}ms`,
          {
            reason: "HandshakeTimeout",
            timeout
          }
        )
      return outcome.pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }),
        // timed out or interrupted: a connection half upgraded is of no use
        Effect.ensuring(Effect.sync(() => {
          if (upgrade.phase !== DONE) this.finishUpgrade(upgrade, timedOut())
        })),
        Effect.ensuring(Effect.suspend(() =>
          upgrade.discarded === 0 ? Effect.void : Effect.logWarning(
            `STARTTLS: discarded ${upgrade.discarded} byte(s) received in plain text after the upgrade command and before the handshake`
          )
        ))
      )
    })
  }

  /** Stops reading, discards what was received and not read, then starts the handshake once the output is sent. */
  private beginUpgrade(upgrade: Upgrade): void {
    const plain = this.driver
    this.upgrade = upgrade
    if (!this.paused) {
      this.paused = true
      plain.pause()
    }
    upgrade.discarded += this.queued
    this.queue = []
    this.head = 0
    this.queued = 0
    this.driver = upgrade.holding
    upgrade.stopFlush = whenFlushed(plain, () => {
      upgrade.stopFlush = undefined
      if (upgrade.phase !== FLUSHING) return
      if (this.eof) {
        return this.finishUpgrade(
          upgrade,
          upgradeError(
            upgrade.options,
            this.remoteAddress,
            "ECONNRESET",
            "the peer ended the connection before the TLS handshake"
          )
        )
      }
      let returned = false
      let early: TlsInfo | TlsError | undefined
      upgrade.phase = HANDSHAKING
      const next = plain.startTls!(upgrade.options, (outcome) => {
        if (returned) this.finishUpgrade(upgrade, outcome)
        else early ??= outcome
      })
      returned = true
      upgrade.holding.inner = next
      if (early !== undefined) this.finishUpgrade(upgrade, early)
    })
  }

  /** Ends an upgrade: reads and held writes go on through TLS, or the connection is reset. */
  private finishUpgrade(upgrade: Upgrade, outcome: TlsInfo | TlsError): void {
    if (upgrade.phase === DONE) return
    upgrade.phase = DONE
    upgrade.stopFlush?.()
    const driver = upgrade.holding.inner
    if (this.driver === upgrade.holding) this.driver = driver
    if (!isTlsError(outcome) && !this.isClosed && this.writeError === undefined) {
      this.tlsInfo = outcome
      this.paused = false
      driver.resume()
      if (upgrade.holding.release(driver)) this.drain()
      upgrade.outcome = outcome
      upgrade.resume?.(outcome)
      return
    }
    const error = isTlsError(outcome)
      ? outcome
      : upgradeError(
        upgrade.options,
        this.remoteAddress,
        "ECONNRESET",
        "the connection failed during the TLS handshake"
      )
    const make = (operation: "read" | "write") =>
      new ConnectionError({
        reason: "Other",
        operation,
        remoteAddress: this.remoteAddress,
        code: error.code,
        cause: error
      })
    if (!this.readError && !this.eof) this.readError = make("read")
    if (!this.writeError) this.writeError = make("write")
    upgrade.holding.fail(this.writeError)
    this.wakeReader()
    this.releaseWriters()
    if (!this.isClosed) {
      this.closing = true
      driver.reset()
    }
    upgrade.outcome = error
    upgrade.resume?.(error)
  }
}

/** Whether `connection.startTls` can work now (STARTTLS offered to the peer only then). */
export const canStartTls = (connection: ConnectionT): boolean =>
  connection instanceof ConnectionImpl
    ? connection.canStartTls()
    : typeof connection.startTls === "function" && connection.tls === undefined
