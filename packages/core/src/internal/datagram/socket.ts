import { Chunk, Effect, Option, Stream } from "effect"
import type { Runtime, Scope } from "effect"
import type { TcpAddress } from "../../Address.ts"
import { isIPv6 } from "../../Address.ts"
import type {
  BindOptions,
  Datagram,
  DatagramDriver,
  DatagramErrorReason,
  DatagramEvents,
  DatagramOperation,
  DatagramSocket,
  DatagramStats,
  ResolvedBindOptions,
  SendOutcome,
  SocketInfo
} from "../../Datagram.ts"
import { DatagramError, defaults, maxIPv4DatagramSize, maxIPv6DatagramSize } from "../../Datagram.ts"
import { evaluateInPlace, InlineHost } from "../inline.ts"
import { addressBytes } from "../ip.ts"

// Functions here are declarations (hoisted): `Datagram.ts` re-exports them
// while this module and it import each other; its constants are read only
// inside functions, once both modules are loaded.

export function reasonOf(code: string | undefined): DatagramErrorReason {
  switch (code) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EADDRNOTAVAIL":
      return "AddressNotAvailable"
    case "EACCES":
    case "EPERM":
    case "ERR_NOT_CAPABLE":
      return "PermissionDenied"
    case "EMSGSIZE":
      return "MessageTooLarge"
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "Unreachable"
    case "ECONNREFUSED":
      return "Refused"
    case "ENOTSUP":
    case "ENOSYS":
    case "EOPNOTSUPP":
    case "EAFNOSUPPORT":
      return "Unsupported"
    case "EBADF":
    case "ERR_SOCKET_DGRAM_NOT_RUNNING":
      return "Closed"
    case "EISCONN":
    case "ERR_SOCKET_DGRAM_IS_CONNECTED":
      return "AlreadyConnected"
    case "ENOTCONN":
    case "EDESTADDRREQ":
    case "ERR_SOCKET_DGRAM_NOT_CONNECTED":
      return "NotConnected"
    default:
      return "Other"
  }
}

/** The `code` of a runtime error, when it has a string one. */
export function codeOf(cause: unknown): string | undefined {
  if (typeof cause === "object" && cause !== null && "code" in cause) {
    const code = (cause as { code: unknown }).code
    return typeof code === "string" ? code : undefined
  }
  return undefined
}

export function fromCause(
  operation: DatagramOperation,
  cause: unknown,
  address?: TcpAddress | undefined
): DatagramError {
  const code = codeOf(cause)
  return new DatagramError({ reason: reasonOf(code), operation, address, code, cause })
}

/** Whether `host` is the address of `bytes` (see `addressBytes`: IPv4-mapped IPv6 is its IPv4 address). */
function sameAddress(bytes: Uint8Array, host: string): boolean {
  const other = addressBytes(host)
  if (other === undefined || other.length !== bytes.length) return false
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== other[i]) return false
  return true
}

const isInt = (n: unknown, min: number, max: number): n is number =>
  typeof n === "number" && Number.isInteger(n) && n >= min && n <= max

export function resolveOptions(options: BindOptions | undefined): ResolvedBindOptions | DatagramError {
  const host = options?.host ?? defaults.host
  const port = options?.port ?? 0
  const ipv6 = isIPv6(host)
  const limit = ipv6 ? maxIPv6DatagramSize : maxIPv4DatagramSize
  const invalid = (detail: string) =>
    new DatagramError({ reason: "InvalidOptions", operation: "bind", address: { host, port }, detail })
  if (typeof host !== "string" || host === "") return invalid("host must be an IP address")
  if (!isInt(port, 0, 65_535)) return invalid(`port must be an integer in 0..65535, got ${port}`)
  const maxDatagramSize = options?.maxDatagramSize ?? defaults.maxDatagramSize
  if (!isInt(maxDatagramSize, 1, limit)) {
    return invalid(`maxDatagramSize must be an integer in 1..${limit}, got ${maxDatagramSize}`)
  }
  const receiveQueue = options?.receiveQueue ?? defaults.receiveQueue
  if (!isInt(receiveQueue, 1, 2 ** 31)) return invalid(`receiveQueue must be a positive integer, got ${receiveQueue}`)
  const receiveQueueBytes = options?.receiveQueueBytes ?? defaults.receiveQueueBytes
  if (!isInt(receiveQueueBytes, 1, 2 ** 52)) {
    return invalid(`receiveQueueBytes must be a positive integer, got ${receiveQueueBytes}`)
  }
  const sendQueue = options?.sendQueue ?? defaults.sendQueue
  if (!isInt(sendQueue, 1, 2 ** 31)) return invalid(`sendQueue must be a positive integer, got ${sendQueue}`)
  const overflow = options?.overflow ?? defaults.overflow
  if (overflow !== "dropNewest" && overflow !== "dropOldest") {
    return invalid(`overflow must be "dropNewest" or "dropOldest", got ${String(overflow)}`)
  }
  const ttl = options?.multicast?.ttl
  if (ttl !== undefined && !isInt(ttl, 0, 255)) return invalid(`multicast.ttl must be an integer in 0..255, got ${ttl}`)
  for (const size of [options?.receiveBufferSize, options?.sendBufferSize]) {
    if (size !== undefined && !isInt(size, 1, 2 ** 31 - 1)) {
      return invalid(`socket buffer sizes must be positive integers`)
    }
  }
  return {
    host,
    port,
    ipv6,
    reuseAddr: options?.reuseAddr === true,
    ipv6Only: options?.ipv6Only === true,
    broadcast: options?.broadcast === true,
    multicast: options?.multicast,
    maxDatagramSize,
    receiveQueue,
    receiveQueueBytes,
    overflow,
    sendQueue,
    receiveBufferSize: options?.receiveBufferSize,
    sendBufferSize: options?.sendBufferSize
  }
}

export function makeSocket(info: SocketInfo, open: (events: DatagramEvents) => DatagramDriver): DatagramSocket {
  const socket = new DatagramSocketImpl(info.address, info.options, info.batched === true)
  socket.attach(open(socket))
  return socket
}

export function scopedSocket<E>(
  acquire: Effect.Effect<DatagramSocket, E>
): Effect.Effect<DatagramSocket, E | DatagramError, Scope.Scope> {
  return Effect.tap(
    Effect.acquireRelease(Effect.interruptible(acquire), (s) => s.close),
    (socket) => {
      const multicast = socket instanceof DatagramSocketImpl ? socket.options.multicast : undefined
      const groups = multicast?.groups
      if (groups === undefined || groups.length === 0) return Effect.void
      // a socket that could not join is of no use: closed now, not when the caller's scope ends
      return Effect.tapError(
        Effect.forEach(groups, (group) => socket.joinMulticast(group, multicast?.interface), { discard: true }),
        () => socket.close
      )
    }
  )
}

interface Held {
  readonly data: Uint8Array
  readonly to: TcpAddress | undefined
}

type Push = (batch: ReadonlyArray<Datagram>) => Effect.Effect<void, any, any> | undefined | void

/**
 * The state machine behind every runtime's datagram sockets. Adapters report
 * datagrams, room to send, errors and closes; it implements the bounded
 * receive queue and its drop policy, pull and push delivery, send
 * backpressure, connected mode, size checks and counters alike for all.
 * Nothing per datagram beyond its `{ data, from }` record (the sender's
 * address record is shared by consecutive datagrams of one peer).
 */
export class DatagramSocketImpl implements DatagramSocket, DatagramEvents {
  private driver!: DatagramDriver
  readonly maxDatagramSize: number
  // receive side
  private queue: Array<Datagram | undefined> = []
  private head = 0
  private queuedBytes = 0
  private takeWaiter: (() => void) | undefined = undefined
  private pushFn: Push | undefined = undefined
  private pushHost: InlineHost | undefined = undefined
  private pushResume: ((effect: Effect.Effect<void, any, any>) => void) | undefined = undefined
  private pushStep: Effect.Effect<void, any, any> | undefined = undefined
  private lastFrom: TcpAddress | undefined = undefined
  // send side
  private blocked = false
  private held: Array<Held> = []
  /** Datagrams `unsafeSend` keeps while the send buffer is full. */
  private readonly holdLimit: number
  private writableWaiters: Array<() => void> = []
  private pendingError: DatagramError | undefined = undefined
  // connected mode
  private remote: TcpAddress | undefined = undefined
  /** Connected mode without OS support: the core filters by sender. */
  private emulated = false
  /** The emulated peer's address as bytes: the runtime may spell it differently (IPv6, IPv4-mapped). */
  private remoteBytes: Uint8Array | undefined = undefined
  private connecting = false
  // lifecycle
  private isClosed = false
  private closeWaiters: Array<() => void> = []
  // counters
  private nReceived = 0
  private nReceivedBytes = 0
  private nSent = 0
  private nSentBytes = 0
  private nDropped = 0
  private nDroppedBytes = 0
  private nErrors = 0
  private nSendDropped = 0
  // effects made once
  private takeEffect: Effect.Effect<Datagram, DatagramError> | undefined = undefined
  private takeBatchEffect: Effect.Effect<ReadonlyArray<Datagram>, DatagramError> | undefined = undefined
  private receiveStream: Stream.Stream<Datagram, DatagramError> | undefined = undefined
  private closeEffect: Effect.Effect<void> | undefined = undefined
  private closedEffect: Effect.Effect<void> | undefined = undefined
  private statsEffect: Effect.Effect<DatagramStats> | undefined = undefined
  private awaitWritableEffect: Effect.Effect<void, DatagramError> | undefined = undefined
  private disconnectEffect: Effect.Effect<void, DatagramError> | undefined = undefined
  private roomEffect: Effect.Effect<void> | undefined = undefined
  private clearPushEffect: Effect.Effect<void> | undefined = undefined
  private clearTakeEffect: Effect.Effect<void> | undefined = undefined
  private unsafeSendFn: ((data: Uint8Array, to?: TcpAddress) => boolean) | undefined = undefined
  private pumpFn: DatagramSocket["pump"] | undefined = undefined
  private unsafeStatsFn: (() => DatagramStats) | undefined = undefined

  constructor(
    readonly address: TcpAddress,
    readonly options: ResolvedBindOptions,
    /** The adapter calls `flush` at the end of each wake-up: receivers are woken then, once. */
    private readonly batched = false
  ) {
    this.maxDatagramSize = options.maxDatagramSize
    // room for an answer to every datagram of a batch (at most a full receive queue)
    this.holdLimit = Math.max(options.sendQueue, options.receiveQueue)
  }

  attach(driver: DatagramDriver): void {
    this.driver = driver
  }

  get remoteAddress(): TcpAddress | undefined {
    return this.remote
  }

  // ---- receiving ---------------------------------------------------------

  private get count(): number {
    return this.queue.length - this.head
  }

  get take(): Effect.Effect<Datagram, DatagramError> {
    if (this.takeEffect !== undefined) return this.takeEffect
    const takeOne: Effect.Effect<Datagram, DatagramError> = Effect.suspend(() => {
      if (this.head < this.queue.length) return Effect.succeed(this.takeOne())
      if (this.isClosed) return Effect.fail(this.closedError("receive"))
      return this.awaitDatagram(takeOne)
    })
    return (this.takeEffect = takeOne)
  }

  get takeBatch(): Effect.Effect<ReadonlyArray<Datagram>, DatagramError> {
    if (this.takeBatchEffect !== undefined) return this.takeBatchEffect
    const takeAll: Effect.Effect<ReadonlyArray<Datagram>, DatagramError> = Effect.suspend(() => {
      if (this.head < this.queue.length) return Effect.succeed(this.takeAll())
      if (this.isClosed) return Effect.fail(this.closedError("receive"))
      return this.awaitDatagram(takeAll)
    })
    return (this.takeBatchEffect = takeAll)
  }

  get receive(): Stream.Stream<Datagram, DatagramError> {
    return this.receiveStream ??= Stream.repeatEffectChunkOption(
      Effect.mapBoth(this.takeBatch, {
        onFailure: (e) => (e.reason === "Closed" ? Option.none() : Option.some(e)),
        onSuccess: (batch) => Chunk.unsafeFromArray(batch)
      })
    )
  }

  get pump(): DatagramSocket["pump"] {
    return this.pumpFn ??= (onBatch) => this.doPump(onBatch)
  }

  private takeOne(): Datagram {
    const d = this.queue[this.head]!
    this.queue[this.head] = undefined
    this.head++
    this.queuedBytes -= d.data.length
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return d
  }

  private takeAll(): ReadonlyArray<Datagram> {
    const out = (this.head === 0 ? this.queue : this.queue.slice(this.head)) as Array<Datagram>
    this.queue = []
    this.head = 0
    this.queuedBytes = 0
    return out
  }

  private awaitDatagram<A>(retry: Effect.Effect<A, DatagramError>): Effect.Effect<A, DatagramError> {
    return Effect.async<A, DatagramError>((resume) => {
      this.takeWaiter = () => resume(retry)
      return this.clearTakeEffect ??= Effect.sync(() => {
        this.takeWaiter = undefined
      })
    })
  }

  private doPump<E, R>(onBatch: Push): Effect.Effect<void, E, R> {
    return Effect.flatMap(Effect.runtime<R>(), (runtime) => {
      // effects `onBatch` returns are evaluated in place, without waking the
      // pump's fiber, as far as they go without waiting (see internal/inline.ts)
      const host = new InlineHost(runtime as Runtime.Runtime<never>)
      const step: Effect.Effect<void, E, R> = Effect.suspend(() => {
        // pull mode: deliver what is queued, honouring send backpressure
        while (true) {
          if (this.isClosed) return Effect.void
          if (this.blocked) return Effect.zipRight(this.room, step)
          if (this.head >= this.queue.length) break
          const next = onBatch(this.takeAll())
          if (next !== undefined) return Effect.zipRight(next, step)
        }
        // push mode until something needs the fiber: an effect returned by
        // `onBatch` that must wait, a full send buffer, or the close resume it
        return Effect.async<void, E, R>((resume) => {
          this.pushFn = onBatch
          this.pushHost = host
          this.pushResume = resume as (effect: Effect.Effect<void, any, any>) => void
          this.pushStep = step
          return this.clearPushEffect ??= Effect.sync(() => this.clearPush())
        })
      })
      return Effect.ensuring(step, Effect.sync(() => host.close()))
    })
  }

  private resumePush(effect: Effect.Effect<void, any, any>): void {
    const resume = this.pushResume!
    this.clearPush()
    resume(effect)
  }

  private clearPush(): void {
    this.pushFn = undefined
    this.pushHost = undefined
    this.pushResume = undefined
    this.pushStep = undefined
  }

  private wakeReceiver(): void {
    const w = this.takeWaiter
    if (w !== undefined) {
      this.takeWaiter = undefined
      w()
    } else if (this.pushResume !== undefined) {
      this.resumePush(this.pushStep!)
    }
  }

  // ---- DatagramEvents (called by adapters) -------------------------------

  message(data: Uint8Array, host: string, port: number): void {
    if (this.isClosed) return
    const size = data.length
    this.nReceived++
    this.nReceivedBytes += size
    const remote = this.remote
    if (
      size > this.maxDatagramSize ||
      (this.emulated && remote !== undefined &&
        (remote.port !== port || (remote.host !== host && !sameAddress(this.remoteBytes!, host))))
    ) {
      this.nDropped++
      this.nDroppedBytes += size
      return
    }
    let from = this.lastFrom
    if (from === undefined || from.port !== port || from.host !== host) from = this.lastFrom = { host, port }
    const datagram: Datagram = { data, from }
    if (this.batched) {
      // delivered at `flush`, with the rest of this wake-up's datagrams
      this.enqueue(datagram)
      return
    }
    if (this.pushFn !== undefined) return this.deliver([datagram])
    this.enqueue(datagram)
    this.wakeReceiver()
  }

  flush(): void {
    if (this.isClosed || this.head >= this.queue.length) return
    if (this.pushFn !== undefined) this.deliver(this.takeAll())
    else this.wakeReceiver()
  }

  /** Hands a batch to the pump's consumer, in push mode. */
  private deliver(batch: ReadonlyArray<Datagram>): void {
    let next: Effect.Effect<void, any, any> | undefined | void
    try {
      next = this.pushFn!(batch)
    } catch (defect) {
      next = Effect.die(defect)
    }
    if (next !== undefined) {
      const rest = evaluateInPlace(this.pushHost!, next)
      if (rest !== undefined) return this.resumePush(Effect.zipRight(rest, this.pushStep!))
    }
    if (this.blocked && this.pushResume !== undefined) this.resumePush(this.pushStep!)
  }

  private enqueue(datagram: Datagram): void {
    const size = datagram.data.length
    const options = this.options
    if (this.count >= options.receiveQueue || this.queuedBytes + size > options.receiveQueueBytes) {
      if (options.overflow === "dropNewest" || size > options.receiveQueueBytes) {
        this.nDropped++
        this.nDroppedBytes += size
        return
      }
      while (
        this.head < this.queue.length &&
        (this.count >= options.receiveQueue || this.queuedBytes + size > options.receiveQueueBytes)
      ) {
        const old = this.takeOne()
        this.nDropped++
        this.nDroppedBytes += old.data.length
      }
    }
    this.queue.push(datagram)
    this.queuedBytes += size
  }

  writable(): void {
    if (this.isClosed || !this.blocked) return
    this.blocked = false
    // datagrams the runtime did not take yet go first, in order
    const held = this.held
    let i = 0
    while (i < held.length && !this.blocked) {
      const h = held[i]!
      const outcome = this.driver.send(h.data, h.to)
      if (outcome === "retry") {
        this.blocked = true
        break
      }
      i++
      if (outcome === "closed") {
        this.held = []
        return this.closedByRuntime()
      }
      this.countSent(h.data)
      if (outcome === "full") this.blocked = true
    }
    if (i > 0) this.held = i === held.length ? [] : held.slice(i)
    if (this.blocked) return
    this.wakeWriters()
  }

  private wakeWriters(): void {
    if (this.writableWaiters.length > 0) {
      const waiters = this.writableWaiters
      this.writableWaiters = []
      // a pump that stopped for room is among them
      for (const w of waiters) w()
    }
  }

  error(code: string | undefined, cause: unknown): void {
    if (this.isClosed) return
    this.nErrors++
    this.pendingError = new DatagramError({
      reason: reasonOf(code),
      operation: "send",
      address: this.remote,
      code,
      cause
    })
  }

  closedByRuntime(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.queue = []
    this.head = 0
    this.queuedBytes = 0
    this.held = []
    this.wakeReceiver()
    this.wakeWriters()
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const w of waiters) w()
  }

  // ---- sending -------------------------------------------------------------

  private countSent(data: Uint8Array): void {
    this.nSent++
    this.nSentBytes += data.length
  }

  /** Why `data` may not be sent to `to` now, or undefined. */
  private sendCheck(data: Uint8Array, to: TcpAddress | undefined): DatagramError | undefined {
    if (this.isClosed) return this.closedError("send", to)
    const pending = this.pendingError
    if (pending !== undefined) {
      this.pendingError = undefined
      return pending
    }
    return this.refusal(data, to)
  }

  /** Why `data` to `to` is refused whatever the runtime's state, or undefined. */
  private refusal(data: Uint8Array, to: TcpAddress | undefined): DatagramError | undefined {
    if (this.isClosed) return this.closedError("send", to)
    if (data.length > this.maxDatagramSize) {
      return new DatagramError({
        reason: "MessageTooLarge",
        operation: "send",
        address: to ?? this.remote,
        size: data.length,
        limit: this.maxDatagramSize
      })
    }
    if (to === undefined) {
      if (this.remote === undefined) return new DatagramError({ reason: "NotConnected", operation: "send" })
    } else if (this.remote !== undefined) {
      return new DatagramError({ reason: "AlreadyConnected", operation: "send", address: to })
    }
    return undefined
  }

  /** The destination handed to the driver: none for an OS-connected socket. */
  private destination(to: TcpAddress | undefined): TcpAddress | undefined {
    return to ?? (this.emulated ? this.remote : undefined)
  }

  send(data: Uint8Array, to?: TcpAddress): Effect.Effect<void, DatagramError> {
    const attempt: Effect.Effect<void, DatagramError> = Effect.suspend(() => {
      const refusal = this.sendCheck(data, to)
      if (refusal !== undefined) return Effect.fail(refusal)
      if (this.blocked) return Effect.zipRight(this.room, attempt)
      const outcome: SendOutcome = this.driver.send(data, this.destination(to))
      switch (outcome) {
        case "sent":
          this.countSent(data)
          return Effect.void
        case "full":
          this.countSent(data)
          this.blocked = true
          return Effect.void
        case "retry":
          this.blocked = true
          return Effect.zipRight(this.room, attempt)
        case "closed":
          this.closedByRuntime()
          return Effect.fail(this.closedError("send", to))
      }
    })
    return attempt
  }

  get unsafeSend(): (data: Uint8Array, to?: TcpAddress) => boolean {
    return this.unsafeSendFn ??= (data, to) => this.doUnsafeSend(data, to)
  }

  private doUnsafeSend(data: Uint8Array, to: TcpAddress | undefined): boolean {
    // a refusal is the caller's to see with `send`; an error the runtime
    // reported stays pending for the next `send` or `awaitWritable`
    if (this.pendingError !== undefined || this.refusal(data, to) !== undefined) return false
    const destination = this.destination(to)
    if (this.blocked) {
      if (this.held.length < this.holdLimit) this.held.push({ data, to: destination })
      else this.nSendDropped++
      return false
    }
    const outcome = this.driver.send(data, destination)
    switch (outcome) {
      case "sent":
        this.countSent(data)
        return true
      case "full":
        this.countSent(data)
        this.blocked = true
        return false
      case "retry":
        this.blocked = true
        this.held.push({ data, to: destination })
        return false
      case "closed":
        this.closedByRuntime()
        return false
    }
  }

  /** Completes once the send buffer has room or the socket closed. */
  private get room(): Effect.Effect<void> {
    return this.roomEffect ??= Effect.async<void>((resume) => {
      if (!this.blocked || this.isClosed) return resume(Effect.void)
      const w = () => resume(Effect.void)
      this.writableWaiters.push(w)
      return Effect.sync(() => {
        const i = this.writableWaiters.indexOf(w)
        if (i >= 0) this.writableWaiters.splice(i, 1)
      })
    })
  }

  get awaitWritable(): Effect.Effect<void, DatagramError> {
    const check: Effect.Effect<void, DatagramError> = Effect.suspend(() => {
      if (this.isClosed) return Effect.fail(this.closedError("send"))
      const pending = this.pendingError
      if (pending !== undefined) {
        this.pendingError = undefined
        return Effect.fail(pending)
      }
      return this.blocked ? Effect.zipRight(this.room, check) : Effect.void
    })
    return this.awaitWritableEffect ??= check
  }

  // ---- connected mode ----------------------------------------------------

  connect(to: TcpAddress): Effect.Effect<void, DatagramError> {
    return Effect.suspend(() => {
      if (this.isClosed) return Effect.fail(this.closedError("connect", to))
      if (this.remote !== undefined || this.connecting) {
        return Effect.fail(new DatagramError({ reason: "AlreadyConnected", operation: "connect", address: to }))
      }
      const driverConnect = this.driver.connect
      if (driverConnect === undefined) {
        // the core filters by sender: it must know the peer's address, not a name
        const bytes = addressBytes(to.host)
        if (bytes === undefined) {
          return Effect.fail(
            new DatagramError({
              reason: "Unsupported",
              operation: "connect",
              address: to,
              detail: "connected mode on this transport needs the peer's IP address, not a host name"
            })
          )
        }
        this.remote = { host: to.host, port: to.port }
        this.remoteBytes = bytes
        this.emulated = true
        return Effect.void
      }
      this.connecting = true
      return Effect.async<void, DatagramError>((resume) => {
        driverConnect.call(this.driver, to, (error) => {
          this.connecting = false
          if (error === undefined && !this.isClosed) {
            this.remote = { host: to.host, port: to.port }
            return resume(Effect.void)
          }
          if (this.isClosed) return resume(Effect.fail(this.closedError("connect", to)))
          const code = error?.code ?? codeOf(error?.cause)
          resume(
            Effect.fail(
              new DatagramError({
                reason: reasonOf(code),
                operation: "connect",
                address: to,
                code,
                cause: error?.cause
              })
            )
          )
        })
      })
    })
  }

  get disconnect(): Effect.Effect<void, DatagramError> {
    return this.disconnectEffect ??= Effect.suspend(() => {
      if (this.isClosed) return Effect.fail(this.closedError("connect"))
      if (this.remote === undefined) {
        return Effect.fail(new DatagramError({ reason: "NotConnected", operation: "connect" }))
      }
      if (!this.emulated) {
        try {
          this.driver.disconnect?.()
        } catch (cause) {
          return Effect.fail(this.failure("connect", this.remote, cause))
        }
      }
      this.remote = undefined
      this.emulated = false
      // an error of the old peer is no concern of the next one
      this.pendingError = undefined
      return Effect.void
    })
  }

  // ---- multicast ---------------------------------------------------------

  joinMulticast(group: string, iface?: string): Effect.Effect<void, DatagramError> {
    return this.membership(group, iface, true)
  }

  leaveMulticast(group: string, iface?: string): Effect.Effect<void, DatagramError> {
    return this.membership(group, iface, false)
  }

  private membership(group: string, iface: string | undefined, join: boolean): Effect.Effect<void, DatagramError> {
    return Effect.suspend(() => {
      const address = { host: group, port: this.address.port }
      if (this.isClosed) return Effect.fail(this.closedError("multicast", address))
      const f = join ? this.driver.joinMulticast : this.driver.leaveMulticast
      if (f === undefined) {
        return Effect.fail(
          new DatagramError({
            reason: "Unsupported",
            operation: "multicast",
            address,
            detail: "this transport has no multicast"
          })
        )
      }
      let result: void | PromiseLike<void>
      try {
        result = f.call(this.driver, group, iface)
      } catch (cause) {
        return Effect.fail(this.failure("multicast", address, cause))
      }
      if (result === undefined || typeof (result as PromiseLike<void>).then !== "function") return Effect.void
      const promise = result as PromiseLike<void>
      return Effect.async<void, DatagramError>((resume) => {
        promise.then(
          () => resume(Effect.void),
          (cause) => resume(Effect.fail(this.failure("multicast", address, cause)))
        )
      })
    })
  }

  // ---- lifecycle and counters -------------------------------------------

  get close(): Effect.Effect<void> {
    return this.closeEffect ??= Effect.sync(() => {
      if (this.isClosed) return
      try {
        this.driver.close()
      } catch {
        // the socket is released either way
      }
      this.closedByRuntime()
    })
  }

  get closed(): Effect.Effect<void> {
    return this.closedEffect ??= Effect.async<void>((resume) => {
      if (this.isClosed) return resume(Effect.void)
      this.closeWaiters.push(() => resume(Effect.void))
    })
  }

  get stats(): Effect.Effect<DatagramStats> {
    return this.statsEffect ??= Effect.sync(() => this.doStats())
  }

  get unsafeStats(): () => DatagramStats {
    return this.unsafeStatsFn ??= () => this.doStats()
  }

  private doStats(): DatagramStats {
    return {
      received: this.nReceived,
      receivedBytes: this.nReceivedBytes,
      sent: this.nSent,
      sentBytes: this.nSentBytes,
      dropped: this.nDropped,
      droppedBytes: this.nDroppedBytes,
      sendDropped: this.nSendDropped,
      queued: this.count,
      queuedBytes: this.queuedBytes,
      errors: this.nErrors
    }
  }

  private closedError(operation: DatagramOperation, address?: TcpAddress): DatagramError {
    return new DatagramError({ reason: "Closed", operation, address: address ?? this.address })
  }

  private failure(operation: DatagramOperation, address: TcpAddress | undefined, cause: unknown): DatagramError {
    return fromCause(operation, cause, address)
  }
}
