import { Effect, Scope } from "effect"
import type { Address } from "../Address.ts"
import type { Connection } from "../Connection.ts"
import type { Listener, ListenOptions } from "../Transport.ts"
import { defaultAcceptQueue, ListenError } from "../Transport.ts"
import { makeStage, ProxyStage } from "./proxyListener.ts"

/**
 * The listeners made here, by their `accept` (adapters hand out their own
 * listener objects, which share it): the server runner takes connections from
 * them straight into a connection's scope (see {@link acceptIntoOf}).
 */
const listeners = new WeakMap<object, ListenerImpl>()

/**
 * `listener.accept` into `scope`, for a listener made here: the same as
 * `Scope.extend(listener.accept, scope)` without providing the scope as a
 * service, which sets and restores the fiber's context around every accept.
 */
export const acceptIntoOf = (
  listener: Listener
): ((scope: Scope.Scope) => Effect.Effect<Connection, ListenError>) | undefined => {
  const impl = listeners.get(listener.accept)
  return impl === undefined ? undefined : impl.acceptInto
}

/**
 * Why a listener made here must not be handed out (its options were
 * refused: see `Driver.scopedListener`), or `undefined`.
 */
export const refusalOf = (listener: Listener): ListenError | undefined => listeners.get(listener.accept)?.refusal

/** A listener's accept queue, shared by every adapter. */
export class ListenerImpl implements Listener {
  readonly accept: Effect.Effect<Connection, ListenError, Scope.Scope>
  readonly close: Effect.Effect<void>
  readonly acceptInto: (scope: Scope.Scope) => Effect.Effect<Connection, ListenError>
  private queue: Array<Connection> = []
  private waiter: (() => void) | undefined
  private isClosed = false
  private rejectedCount = 0
  private acceptHooks: Array<() => void> = []
  private readonly limit: number
  /** With `proxyProtocol`: where accepted connections wait for their header (see internal/proxyListener.ts). */
  private readonly stage: ProxyStage | undefined
  /** Options refused: the listen fails with this. */
  readonly refusal: ListenError | undefined

  constructor(
    readonly address: Address,
    acceptQueue: number | undefined,
    private readonly closeNative: () => void,
    options?: ListenOptions | undefined
  ) {
    this.limit = acceptQueue ?? defaultAcceptQueue
    const stage = makeStage(options, (conn) => this.enqueue(conn))
    this.stage = stage instanceof ProxyStage ? stage : undefined
    this.refusal = stage === undefined || stage instanceof ProxyStage
      ? undefined
      : new ListenError({ reason: "Other", address, code: "EINVAL", cause: stage })
    const closedError = new ListenError({ reason: "Closed", address })
    const take: Effect.Effect<Connection, ListenError> = Effect.suspend(() => {
      const c = this.queue.shift()
      if (c !== undefined) {
        for (const h of this.acceptHooks) h()
        return Effect.succeed(c)
      }
      if (this.isClosed) return Effect.fail(closedError)
      return Effect.async<Connection, ListenError>((resume) => {
        this.waiter = () => resume(take)
        return Effect.sync(() => {
          this.waiter = undefined
        })
      })
    })
    // with `proxyProtocol`, the first accept lends its fiber's runtime to the header stage
    // (the Clock for the header timeout, the logger for refusals)
    const first = this.stage === undefined ?
      take :
      Effect.suspend(() =>
        this.stage!.started ? take : Effect.flatMap(Effect.runtime<never>(), (runtime) => {
          this.stage!.start(runtime)
          return take
        })
      )
    // what `acquireRelease` does, but its finalizer would keep a copy of the accepting
    // fiber's FiberRefs for as long as the connection lives: closing needs none of them
    this.acceptInto = (scope) =>
      Effect.uninterruptible(
        Effect.flatMap(Effect.interruptible(first), (c) =>
          Effect.as(Scope.addFinalizer(scope, Effect.uninterruptible(c.close)), c))
      )
    this.accept = Effect.flatMap(Effect.scope, this.acceptInto)
    listeners.set(this.accept, this)
    this.stage?.register(this.accept)
    this.close = Effect.suspend(() => {
      if (this.isClosed) return Effect.void
      this.isClosed = true
      this.closeNative()
      this.stage?.close()
      const queued = this.queue
      this.queue = []
      this.wake()
      return Effect.forEach(queued, (c) => c.abort, { discard: true })
    })
  }

  rejected = (): number => this.rejectedCount

  offer(conn: Connection): boolean {
    const stage = this.stage
    if (this.isClosed || this.queue.length + (stage === undefined ? 0 : stage.inFlight()) >= this.limit) {
      this.rejectedCount++
      Effect.runSync(conn.abort)
      return false
    }
    if (stage !== undefined) stage.offer(conn)
    else {
      this.queue.push(conn)
      this.wake()
    }
    return true
  }

  /** A connection out of the PROXY protocol stage: queued for `accept`. */
  private enqueue(conn: Connection): void {
    if (this.isClosed) {
      Effect.runSync(conn.abort)
      return
    }
    this.queue.push(conn)
    this.wake()
  }

  pending(): number {
    return this.queue.length
  }

  onAccept(f: () => void): void {
    this.acceptHooks.push(f)
  }

  private wake(): void {
    const w = this.waiter
    if (w) {
      this.waiter = undefined
      w()
    }
  }
}
