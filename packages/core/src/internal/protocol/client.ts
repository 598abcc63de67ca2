import { Effect } from "effect"
import type { Address } from "../../Address.ts"
import type { ClientError as ClientErrorT } from "../../Client.ts"
import { ClientError } from "../../Client.ts"
import type { Connection } from "../../Connection.ts"
import type { ClientCodec, Outcome, Protocol } from "../../Protocol.ts"
import { isRefusal } from "../../Protocol.ts"
import type { Deadline, Deadlines } from "../deadlines.ts"
import { Writer } from "./writer.ts"

interface Pending {
  readonly resume: (effect: Effect.Effect<any, any>) => void
  readonly id: number | undefined
  timer: Deadline | undefined
  /** Answered, timed out or interrupted (an inOrder entry stays queued until its response arrives). */
  done: boolean
}

/**
 * One client connection: writes requests (coalesced per turn), matches
 * responses (in order or by id), forwards pushes, and fails every pending
 * request with `Disconnected` when the link drops: none hangs.
 */
export class ClientLink<Req, Res, Err, OneWay, Push> {
  private readonly codec: ClientCodec<Req, Res, Err, OneWay, Push>
  private readonly writer: Writer
  private readonly byId: boolean
  private queue: Array<Pending | undefined> = []
  private head = 0
  private readonly map = new Map<number, Pending>()
  private nextId = 1
  /** Requests waiting for a response (not abandoned). */
  active = 0
  open = true
  draining = false
  /** Frames received: a link that received something was healthy (the reconnect schedule resets). */
  received = 0

  constructor(
    readonly connection: Connection,
    protocol: Protocol<Req, Res, Err, OneWay, Push>,
    private readonly address: Address,
    private readonly onPush: (message: Push) => void,
    private readonly onChange: () => void,
    private readonly deadlines: Deadlines
  ) {
    this.codec = protocol.client()
    this.writer = new Writer(connection, protocol.framing)
    this.byId = protocol.correlation === "byId"
  }

  request(request: Req, timeout: number | undefined): Effect.Effect<Res, Err | ClientErrorT> {
    return Effect.async<Res, Err | ClientErrorT>((resume) => {
      if (!this.open) return resume(Effect.fail(this.disconnected()))
      const id = this.byId ? this.nextId++ : undefined
      const frame = this.codec.encodeRequest(request, id)
      if (!(frame instanceof Uint8Array)) return resume(Effect.fail(new ClientError({ reason: "Encode", cause: frame })))
      const error = this.writer.send(frame)
      if (error !== undefined) return resume(Effect.fail(new ClientError({ reason: "Encode", cause: error })))
      const pending: Pending = { resume, id, timer: undefined, done: false }
      if (id !== undefined) this.map.set(id, pending)
      else this.queue.push(pending)
      this.active++
      if (timeout !== undefined) {
        pending.timer = this.deadlines.add(timeout, () => {
          if (pending.done) return
          this.abandon(pending)
          resume(Effect.fail(new ClientError({ reason: "Timeout", timeout, address: this.address })))
        })
      }
      return Effect.sync(() => {
        if (!pending.done) this.abandon(pending)
      })
    })
  }

  send(message: OneWay): Effect.Effect<void, ClientErrorT> {
    return Effect.suspend(() => {
      if (!this.open) return Effect.fail(this.disconnected())
      const frame = this.codec.encodeOneWay(message)
      if (!(frame instanceof Uint8Array)) return Effect.fail(new ClientError({ reason: "Encode", cause: frame }))
      const error = this.writer.send(frame)
      return error === undefined ? Effect.void : Effect.fail(new ClientError({ reason: "Encode", cause: error }))
    })
  }

  private abandon(pending: Pending): void {
    pending.done = true
    if (pending.timer !== undefined) this.deadlines.cancel(pending.timer)
    if (pending.id !== undefined) this.map.delete(pending.id)
    this.active--
    this.onChange()
  }

  private settle(pending: Pending, effect: Effect.Effect<any, any>): void {
    if (pending.done) return
    pending.done = true
    if (pending.timer !== undefined) this.deadlines.cancel(pending.timer)
    this.active--
    pending.resume(effect)
  }

  private disconnected(): ClientErrorT {
    return new ClientError({ reason: "Disconnected", address: this.address })
  }

  private toEffect(outcome: Outcome<Res, Err>): Effect.Effect<Res, Err | ClientErrorT> {
    switch (outcome._tag) {
      case "Success":
        return Effect.succeed(outcome.value)
      case "Failure":
        return Effect.fail(outcome.error)
      case "Fault":
        return Effect.fail(
          new ClientError({ reason: isRefusal(outcome.fault.reason) ? "Refused" : "Remote", fault: outcome.fault, address: this.address })
        )
    }
  }

  private nextInOrder(): Pending | undefined {
    if (this.head >= this.queue.length) return undefined
    const pending = this.queue[this.head]!
    this.queue[this.head++] = undefined
    if (this.head === this.queue.length) {
      this.queue.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return pending
  }

  /** The `Framed.pump` callback. */
  readonly onFrames = (frames: ReadonlyArray<Uint8Array>): undefined => {
    this.received += frames.length
    let settled = false
    for (let i = 0; i < frames.length && this.open; i++) {
      const message = this.codec.decode(frames[i]!)
      switch (message._tag) {
        case "Response": {
          const pending = this.byId ? this.takeById(message.id) : this.nextInOrder()
          if (pending === undefined) {
            if (!this.byId) this.desync("a response with no request waiting")
            break
          }
          if (pending.id !== undefined) this.map.delete(pending.id)
          settled = true
          this.settle(pending, this.toEffect(message.outcome))
          break
        }
        case "Push":
          this.onPush(message.message)
          break
        case "Draining":
          this.draining = true
          settled = true
          break
        case "Invalid": {
          if (!this.byId) {
            this.desync(`a message that does not decode: ${message.error.message}`)
            break
          }
          const pending = this.takeById(message.id)
          if (pending !== undefined) {
            this.map.delete(pending.id!)
            settled = true
            this.settle(pending, Effect.fail(new ClientError({ reason: "Decode", cause: message.error, address: this.address })))
          } else {
            Effect.runFork(Effect.logWarning(`client: dropped a message that does not decode: ${message.error.message}`))
          }
        }
      }
    }
    if (settled) this.onChange()
    return undefined
  }

  private takeById(id: number | undefined): Pending | undefined {
    return id === undefined ? undefined : this.map.get(id)
  }

  /** The stream is out of step (inOrder): fail everything and close, the pool reconnects. */
  private desync(why: string): void {
    Effect.runFork(Effect.logWarning(`client: protocol out of step (${why}); closing the connection`))
    this.drop(new ClientError({ reason: "Decode", address: this.address, cause: why }))
    Effect.runFork(this.connection.abort)
  }

  /** The link is gone: every pending request fails with `error`. Idempotent. */
  drop(error?: ClientErrorT): void {
    if (!this.open) return
    this.open = false
    const failure = Effect.fail(error ?? this.disconnected())
    const queue = this.queue
    this.queue = []
    for (let i = this.head; i < queue.length; i++) {
      const p = queue[i]
      if (p !== undefined && !p.done) this.settle(p, failure)
    }
    this.head = 0
    const pendings = [...this.map.values()]
    this.map.clear()
    for (const p of pendings) this.settle(p, failure)
    this.onChange()
  }
}
