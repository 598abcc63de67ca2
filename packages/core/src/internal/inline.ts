/**
 * Runs a handler's Effect synchronously, without a fiber, as far as it goes
 * without waiting; hands the rest to a fiber only if it must wait.
 *
 * A protocol server runs one handler per request. Forking a fiber for each
 * (context copy, scheduler hop, observers) costs more than the whole framing
 * layer, yet most handlers never wait: they read a map, compute, answer. So
 * the server evaluates the handler's Effect here, step by step, the way
 * Effect's own run loop does (the same primitives, the same continuation
 * stack, the same order of effects), on the connection's context. If the
 * Effect completes, the answer is its `Exit`, and no fiber ever existed. If it
 * meets something that must wait (`Async`, `Yield`, a step budget used up),
 * the continuation stack is turned back into an ordinary Effect (`flatMap`,
 * `matchCauseEffect`, the generator resumed where it stopped, regions
 * re-entered) and run on a fiber that starts where the evaluation stopped:
 * same fiber refs, same runtime flags. Nothing is evaluated twice.
 *
 * Primitives that need "the current fiber" (`withFiberRuntime`: logging,
 * `FiberRef` reads and writes, `provideService`, spans, the clock) run against
 * one host fiber per connection, created on first use and never started:
 * its fiber refs are restored after each evaluation, so nothing leaks from
 * one request to the next; a fiber a handler forks is supervised by the
 * host (interrupted when the connection ends, or when the request completes
 * without waiting, as a request fiber's children would be).
 *
 * Middleware that would race a timer ({@link region}) evaluates its inner
 * effect in place and wraps only a continuation that really waits: a request
 * that completes synchronously never creates the timer.
 */
import {
  Cause,
  Context,
  Effect,
  Effectable,
  Exit,
  FiberId,
  FiberRefs,
  Inspectable,
  Option,
  Predicate,
  Runtime,
  RuntimeFlags,
  Scope
} from "effect"
import { Fiber } from "effect"
import type { FiberRef, RuntimeFlagsPatch } from "effect"
import { yieldWrapGet } from "effect/Utils"

/** Waits until interrupted, with no timer (unlike `Effect.never`, which keeps the process alive). */
const waitForever: Effect.Effect<never> = Effect.async<never>(() => {})

/** A new sequential Scope, without running an Effect (`Scope.make()` is a `sync`). */
const makeScope = (): Scope.CloseableScope => {
  const make = Scope.make() as any
  return make._op === "Sync" ? make.effect_instruction_i0() : Effect.runSync(make)
}

/** Evaluation steps after which the rest goes to a fiber (which yields cooperatively). */
const MAX_STEPS = 10_000

/**
 * An Effect the evaluator enters in place (it is its own frame on the
 * continuation stack) instead of committing it. A fiber that runs it commits
 * it as usual: both ways mean the same.
 */
abstract class Region<A, E, R> extends Effectable.Class<A, E, R> {
  constructor(readonly effect: Effect.Effect<any, any, any>) {
    super()
  }
  /**
   * The inner effect completed in place with this outcome: `undefined` to
   * pass it on, or an Effect to run in its place (which ends with it).
   */
  abstract exit(
    value: unknown,
    failed: boolean,
    refs: FiberRefReader
  ): Effect.Effect<unknown, unknown, unknown> | undefined
  /** Wraps the part of the region that continues on a fiber. */
  abstract resume(rest: Effect.Effect<unknown, unknown, unknown>): Effect.Effect<unknown, unknown, unknown>
}

class Wrap<A, E, R> extends Region<A, E, R> {
  constructor(
    effect: Effect.Effect<any, any, any>,
    private readonly whenRun: (effect: Effect.Effect<any, any, any>) => Effect.Effect<A, E, R>,
    private readonly onRest: (rest: Effect.Effect<any, any, any>) => Effect.Effect<any, any, any>
  ) {
    super(effect)
  }
  commit(): Effect.Effect<A, E, R> {
    return this.whenRun(this.effect)
  }
  exit(): undefined {
    return undefined
  }
  resume(rest: Effect.Effect<unknown, unknown, unknown>) {
    return this.onRest(rest)
  }
}

/** Reads the current value of a `FiberRef` (of the fiber, or of the evaluation in place). */
export interface FiberRefReader {
  getFiberRef<X>(ref: FiberRef.FiberRef<X>): X
}

/**
 * The outcome an observer sees: a fiber's `Exit`, or, evaluated in place, a
 * plain success record (an `Exit` object per message costs more than the
 * observer's own work; failures are real `Exit`s either way).
 */
export type Observed<A, E> = { readonly _tag: "Success"; readonly value: A } | Exit.Failure<A, E>

class Observe<A, E, R, R2> extends Region<A, E, R | R2> {
  constructor(
    effect: Effect.Effect<A, E, R>,
    private readonly onExit: (exit: Observed<A, E>, refs: FiberRefReader) => Effect.Effect<void, never, R2> | undefined
  ) {
    super(effect)
  }
  // (no class fields: a field initializer is a defineProperty per instance)
  private finalizer(): (exit: Exit.Exit<A, E>) => Effect.Effect<void, never, R2> {
    return (exit) => Effect.withFiberRuntime((fiber) => this.onExit(exit, fiber) ?? Effect.void)
  }
  commit(): Effect.Effect<A, E, R | R2> {
    return Effect.onExit(this.effect, this.finalizer())
  }
  exit(value: unknown, failed: boolean, refs: FiberRefReader): Effect.Effect<unknown, unknown, unknown> | undefined {
    const after = failed
      ? this.onExit(Exit.failCause(value as Cause.Cause<E>) as Exit.Failure<A, E>, refs)
      : this.onExit({ _tag: "Success", value: value as A }, refs)
    if (after === undefined) return undefined
    // a finalizer runs uninterruptibly, then the outcome goes on
    return Effect.zipRight(
      Effect.uninterruptible(after),
      failed ? Exit.failCause(value as Cause.Cause<E>) : Exit.succeed(value as A)
    )
  }
  resume(rest: Effect.Effect<unknown, unknown, unknown>) {
    return Effect.onExit(rest as Effect.Effect<A, E, R>, this.finalizer())
  }
}

/**
 * `Effect.gen` of a generator function made once (`f.call(self, a, b)` per
 * run): a fiber runs it as `Effect.gen`; the evaluator calls `f` and steps
 * the generator directly (no closures, no suspend, no iterator primitive).
 */
export class GenCall<A, E, R> extends Effectable.Class<A, E, R> {
  constructor(
    readonly f: (this: unknown, a: unknown, b: unknown) => Iterator<any, A, any>,
    readonly self: unknown,
    readonly a: unknown,
    readonly b: unknown
  ) {
    super()
  }
  iterator(): Iterator<any, A, any> {
    return this.f.call(this.self, this.a, this.b)
  }
  commit(): Effect.Effect<A, E, R> {
    return Effect.gen(() => this.iterator() as any) as any
  }
}

/**
 * An Effect that behaves as `whenRun(effect)` when a fiber runs it, but that
 * the inline evaluator enters in place: if `effect` completes without waiting
 * the wrapper costs nothing; if it must wait, the waiting rest runs as
 * `resume(rest)` (e.g. a timeout armed only then).
 */
export const region = <A, E, R, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  whenRun: (effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | R2>,
  resume: (rest: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | R2>
): Effect.Effect<A, E | E2, R | R2> => new Wrap(effect, whenRun, resume)

/**
 * `Effect.onExit(effect, onExit)` for a finalizer that often has nothing to
 * do: `onExit` is called once with the outcome and returns the Effect to run,
 * or `undefined`. Evaluated in place, a finalizer that returns `undefined`
 * costs one call and the `Exit`; nothing else is built.
 */
export const observe = <A, E, R, R2 = never>(
  effect: Effect.Effect<A, E, R>,
  onExit: (exit: Observed<A, E>, refs: FiberRefReader) => Effect.Effect<void, never, R2> | undefined
): Effect.Effect<A, E, R | R2> => new Observe(effect, onExit)

/** The rest of an evaluation that must wait: run `effect` with `runtime`. */
export class Suspended {
  constructor(readonly effect: Effect.Effect<unknown, unknown>, readonly runtime: Runtime.Runtime<never>) {}
}

// Frames of the continuation stack. The Effect primitives are pushed as they
// are (OnSuccess, OnFailure, OnSuccessAndFailure, Iterator, While), and so are
// Regions (their `_op` is "Commit"); this one is ours (a plain object: it is
// made for every region of changed runtime flags, `onExit` and `ensuring`).
interface RevertFlags {
  readonly _op: "RevertFlags"
  readonly revert: RuntimeFlagsPatch.RuntimeFlagsPatch
  readonly enter: RuntimeFlagsPatch.RuntimeFlagsPatch
}

type Frame = any

/** A fiber-ish host for `withFiberRuntime` primitives, one per connection. */
type HostFiber = Fiber.RuntimeFiber<never, never> & {
  readonly currentContext: Context.Context<never>
  /** Its refs as they are (`getFiberRefs()` would write the runtime flags into a new copy first). */
  _fiberRefs: FiberRefs.FiberRefs
  setFiberRefs(refs: FiberRefs.FiberRefs): void
  _children: Set<Fiber.RuntimeFiber<any, any>> | null
  currentRuntimeFlags: RuntimeFlags.RuntimeFlags
  readonly _queue: Array<unknown>
  drainQueueOnCurrentThread(): void
}

/** The fiber internals used to adopt the host's children (see {@link adoptChildren}). */
type ChildFiber = Fiber.RuntimeFiber<any, any> & {
  addChild(child: Fiber.RuntimeFiber<any, any>): void
  removeChild(child: Fiber.RuntimeFiber<any, any>): void
}

/** The evaluator's per-connection state: the connection's runtime and its host fiber. */
export class InlineHost {
  private host: HostFiber | undefined
  /** The host's fiber refs as created: restored after every evaluation. */
  private pristine: FiberRefs.FiberRefs | undefined
  private readonly flags: RuntimeFlags.RuntimeFlags
  /** Evaluations that completed without a fiber. */
  completed = 0
  /** Evaluations whose rest went to a fiber. */
  suspended = 0

  /** The Scope of the runtime (the connection's or the server's): a handler gets one of its own instead. */
  private readonly outerScope: Scope.Scope | undefined

  constructor(readonly runtime: Runtime.Runtime<never>) {
    this.flags = runtime.runtimeFlags
    this.outerScope = Option.getOrUndefined(Context.getOption(runtime.context, Scope.Scope))
  }

  private hostFiber(): HostFiber {
    if (this.host === undefined) {
      // a fiber that only waits: its refs and context are what the
      // primitives read and write; it never runs anything itself
      const host = Runtime.runFork(this.runtime, waitForever) as unknown as HostFiber
      this.host = host
      this.pristine = host._fiberRefs
    }
    return this.host
  }

  /** A FiberRef's current value in the evaluation (the host's, else the runtime's). */
  getFiberRef<X>(ref: FiberRef.FiberRef<X>): X {
    const host = this.host
    return host !== undefined ? host.getFiberRef(ref) : FiberRefs.getOrDefault(this.runtime.fiberRefs, ref)
  }

  /** Interrupts the host fiber (and so what handlers forked on it). */
  close(): void {
    const host = this.host
    this.host = undefined
    if (host !== undefined) host.unsafeInterruptAsFork(host.id())
  }

  /**
   * Evaluates `effect` synchronously. Returns its `Exit` if it completed,
   * else the {@link Suspended} rest, which the caller runs on a fiber.
   */
  evaluate<A, E>(effect: Effect.Effect<A, E, any>): Exit.Exit<A, E> | Suspended {
    let flags = this.flags
    let stack: Array<Frame> | undefined
    let cur: any = effect
    let steps = 0
    // the outcome of the last step: a value (ok) or a cause (failed)
    let done = false
    let value: unknown = undefined
    let failed = false
    let result: Exit.Exit<A, E> | Suspended | undefined
    // the request's Scope, made when the handler first asks for one
    let scope: Scope.CloseableScope | undefined
    let closing = false
    while (result === undefined) {
      if (++steps > MAX_STEPS) {
        // the last step's outcome, if it completed, is where the rest starts
        result = this.suspend(
          done ? (failed ? Exit.failCause(value as Cause.Cause<unknown>) : Exit.succeed(value)) : cur,
          stack,
          scope,
          closing
        )
        break
      }
      try {
        if (!done) {
          switch (cur._op) {
            case "Success":
              value = cur.effect_instruction_i0
              done = true
              failed = false
              break
            case "Failure":
              value = cur.effect_instruction_i0
              done = true
              failed = true
              break
            case "Sync":
              value = cur.effect_instruction_i0()
              done = true
              failed = false
              break
            case "OnSuccess":
            case "OnFailure":
            case "OnSuccessAndFailure":
              ;(stack ??= []).push(cur)
              cur = cur.effect_instruction_i0
              break
            case "Iterator":
              value = undefined
              done = true
              failed = false
              ;(stack ??= []).push(cur)
              break
            case "Commit":
              if (cur instanceof Region) {
                ;(stack ??= []).push(cur)
                cur = cur.effect
              } else if (cur instanceof GenCall) {
                // as the Iterator primitive: the generator is the frame, started with `undefined`
                ;(stack ??= []).push({ _op: "Iterator", effect_instruction_i0: cur.iterator() } as any)
                value = undefined
                done = true
                failed = false
              } else {
                cur = cur.commit()
              }
              break
            case "Tag":
              value = Context.unsafeGet(this.host?.currentContext ?? this.runtime.context, cur)
              // the request's own Scope where the handler would see the connection's
              if (value === this.outerScope && value !== undefined && !closing) value = scope ??= makeScope()
              done = true
              failed = false
              break
            case "UpdateRuntimeFlags": {
              const patch = cur.effect_instruction_i0
              const old = flags
              flags = RuntimeFlags.patch(flags, patch)
              const scope = cur.effect_instruction_i1
              if (scope === undefined) {
                value = undefined
                done = true
                failed = false
              } else {
                ;(stack ??= []).push(
                  { _op: "RevertFlags", revert: RuntimeFlags.diff(flags, old), enter: patch } satisfies RevertFlags
                )
                cur = scope(old)
              }
              break
            }
            case "WithRuntime": {
              // the host carries the current flags while the primitive runs
              // (some read fiber.currentRuntimeFlags, a few set it)
              const host = this.hostFiber()
              host.currentRuntimeFlags = flags
              cur = cur.effect_instruction_i0(host, { _tag: "Running", runtimeFlags: flags })
              flags = host.currentRuntimeFlags
              break
            }
            case "While":
              if (cur.effect_instruction_i0()) {
                ;(stack ??= []).push(cur)
                cur = cur.effect_instruction_i1()
              } else {
                value = undefined
                done = true
                failed = false
              }
              break
            case "Right":
            case "Some":
              value = cur._op === "Right" ? cur.right : cur.value
              done = true
              failed = false
              break
            case "Left":
              value = Cause.fail(cur.left)
              done = true
              failed = true
              break
            case "None":
              value = Cause.fail(new Cause.NoSuchElementException())
              done = true
              failed = true
              break
            default:
              // Async, Yield, OnStep, Micro...: must wait, or needs a real fiber
              result = this.suspend(cur, stack, scope, closing)
          }
          continue
        }
        // a step completed: hand its outcome to the next frame that takes it
        const frame = stack?.pop()
        if (frame === undefined) {
          const exit = failed ? Exit.failCause(value as Cause.Cause<E>) : Exit.succeed(value as A)
          if (scope === undefined || closing) {
            result = exit
            break
          }
          // the request is done: its scope closes (finalizers may wait), then the outcome
          closing = true
          cur = Effect.flatMap(Scope.close(scope, exit), () => exit)
          done = false
          continue
        }
        if (!failed) {
          switch (frame._op) {
            case "OnSuccess":
              cur = frame.effect_instruction_i1(value)
              done = false
              break
            case "OnSuccessAndFailure":
              cur = frame.effect_instruction_i2(value)
              done = false
              break
            case "Iterator": {
              const state = frame.effect_instruction_i0.next(value)
              if (state.done) {
                value = state.value
                break
              }
              const next = yieldWrapGet(state.value) as any
              if (next._op === "Success") {
                value = next.effect_instruction_i0
                stack!.push(frame)
              } else if (next._op === "Failure") {
                value = next.effect_instruction_i0
                failed = true
              } else {
                stack!.push(frame)
                cur = next
                done = false
              }
              break
            }
            case "While":
              frame.effect_instruction_i2(value)
              if (frame.effect_instruction_i0()) {
                stack!.push(frame)
                cur = frame.effect_instruction_i1()
                done = false
              } else {
                value = undefined
              }
              break
            case "RevertFlags":
              flags = RuntimeFlags.patch(flags, frame.revert)
              break
            case "Commit": {
              // a Region: the inner effect succeeded
              const next = (frame as Region<unknown, unknown, unknown>).exit(value, false, this)
              if (next !== undefined) {
                cur = next
                done = false
              }
              break
            }
              // OnFailure: pass the value on
          }
        } else {
          switch (frame._op) {
            case "OnFailure":
            case "OnSuccessAndFailure":
              cur = frame.effect_instruction_i1(value)
              done = false
              failed = false
              break
            case "RevertFlags":
              flags = RuntimeFlags.patch(flags, frame.revert)
              break
            case "Commit": {
              // a Region: the inner effect failed
              const next = (frame as Region<unknown, unknown, unknown>).exit(value, true, this)
              if (next !== undefined) {
                cur = next
                done = false
                failed = false
              }
              break
            }
              // OnSuccess, Iterator, While: pass the cause on
          }
        }
      } catch (defect) {
        // what the run loop does with a throw in user code: a defect (an
        // interruption too if it is an InterruptedException; a continuation
        // that returned no Effect is reported as such)
        value = !done && !Predicate.hasProperty(cur, "_op")
          ? Cause.die(new Cause.RuntimeException(`Not a valid effect: ${Inspectable.toStringUnknown(cur)}`))
          : Cause.isInterruptedException(defect)
          ? Cause.sequential(Cause.die(defect), Cause.interrupt(FiberId.none))
          : Cause.die(defect)
        done = true
        failed = true
      }
    }
    if (this.host !== undefined) this.settleHost(result)
    if (result instanceof Suspended) this.suspended++
    else this.completed++
    return result
  }

  /** Puts the host fiber back as it was; a suspended rest took its refs with it. */
  private settleHost(result: Exit.Exit<unknown, unknown> | Suspended): void {
    const host = this.host!
    host.currentRuntimeFlags = this.flags
    if (host._fiberRefs !== this.pristine) host.setFiberRefs(this.pristine!)
    if (!(result instanceof Suspended)) {
      // a request fiber's children end with it (a fork registers its child
      // with a message to the host: take it in first)
      if (host._queue.length > 0) host.drainQueueOnCurrentThread()
      const children = host._children
      if (children !== null && children.size > 0) {
        host._children = null
        for (const child of children) child.unsafeInterruptAsFork(host.id())
      }
    }
  }

  /** Turns the continuation stack back into an Effect, to run on a fiber from here. */
  private suspend(
    cur: Effect.Effect<unknown, unknown>,
    stack: Array<Frame> | undefined,
    scope: Scope.CloseableScope | undefined,
    closing: boolean
  ): Suspended {
    let rest: Effect.Effect<unknown, unknown, unknown> = cur
    if (stack !== undefined) {
      for (let i = stack.length - 1; i >= 0; i--) rest = rewrap(rest, stack[i])
    }
    // the request's Scope goes on with the rest and closes when it ends
    if (!closing && this.outerScope !== undefined) {
      rest = scope === undefined
        ? Effect.scoped(rest)
        : Effect.onExit(Effect.provideService(rest, Scope.Scope, scope), (exit) => Scope.close(scope, exit))
    }
    const host = this.host
    if (host !== undefined) {
      host.currentRuntimeFlags = this.flags
      // the children forked so far belong to the rest: they end with it, not
      // with the connection, nor with a later request that completes in place
      if (host._queue.length > 0) host.drainQueueOnCurrentThread()
      const children = host._children
      if (children !== null && children.size > 0) {
        host._children = null
        rest = adoptChildren(rest, children)
      }
    }
    // the fiber takes the refs as they are here (a service provided, a span
    // open); it starts with the connection's flags, and the regions rewrapped
    // above set the rest's
    const runtime = host === undefined || host._fiberRefs === this.pristine
      ? this.runtime
      : Runtime.make({
        context: host.currentContext,
        runtimeFlags: this.runtime.runtimeFlags,
        fiberRefs: host._fiberRefs
      })
    return new Suspended(rest as Effect.Effect<unknown, unknown>, runtime)
  }
}

const rewrap = (
  rest: Effect.Effect<unknown, unknown, unknown>,
  frame: Frame
): Effect.Effect<unknown, unknown, unknown> => {
  switch (frame._op) {
    case "OnSuccess":
      return Effect.flatMap(rest, frame.effect_instruction_i1)
    case "OnFailure":
      return Effect.catchAllCause(rest, frame.effect_instruction_i1)
    case "OnSuccessAndFailure":
      return Effect.matchCauseEffect(rest, {
        onFailure: frame.effect_instruction_i1,
        onSuccess: frame.effect_instruction_i2
      })
    case "Iterator": {
      const iterator = frame.effect_instruction_i0
      return Effect.flatMap(rest, (value) => resumeIterator(iterator, value))
    }
    case "While": {
      const check = frame.effect_instruction_i0
      const body = frame.effect_instruction_i1
      const step = frame.effect_instruction_i2
      return Effect.flatMap(rest, (value) => {
        step(value)
        return Effect.whileLoop({ while: check, body, step })
      })
    }
    case "RevertFlags":
      return Effect.withRuntimeFlagsPatch(rest, (frame as RevertFlags).enter)
    case "Commit":
      return (frame as Region<unknown, unknown, unknown>).resume(rest)
  }
  throw new Error(`inline evaluator: unknown frame ${String(frame?._op)}`)
}

/** Runs `rest` on a fiber that first takes `children` as its own (interrupted when it ends). */
const adoptChildren = (
  rest: Effect.Effect<unknown, unknown, unknown>,
  children: Set<Fiber.RuntimeFiber<any, any>>
): Effect.Effect<unknown, unknown, unknown> =>
  Effect.withFiberRuntime((fiber) => {
    const parent = fiber as unknown as ChildFiber
    for (const child of children) {
      parent.addChild(child)
      child.addObserver(() => parent.removeChild(child))
    }
    return rest
  })

/** Goes on with a generator where the evaluator stopped it, as `Effect.gen` would. */
const resumeIterator = (
  iterator: Iterator<any, any, any>,
  value: unknown
): Effect.Effect<unknown, unknown, unknown> => {
  while (true) {
    let state: IteratorResult<any, any>
    try {
      state = iterator.next(value)
    } catch (defect) {
      return Effect.die(defect)
    }
    if (state.done) return Effect.succeed(state.value)
    const next = yieldWrapGet(state.value) as any
    if (!Exit.isExit(next)) {
      return Effect.flatMap(next as Effect.Effect<unknown, unknown, unknown>, (v) => resumeIterator(iterator, v))
    }
    if (next._tag === "Failure") return next
    value = next.value
  }
}

/**
 * Runs what a push-mode consumer (a `pump` callback) returned, in place.
 * Returns `undefined` when it completed with success; otherwise the Effect
 * the pump's fiber must run before it goes on: the failure, or the rest of
 * an evaluation that must wait, on a fiber of its own (with the fiber refs
 * the evaluation left) that the pump joins, and interrupts if it is
 * interrupted itself.
 */
export const evaluateInPlace = (
  host: InlineHost,
  effect: Effect.Effect<unknown, unknown, any>
): Effect.Effect<unknown, unknown> | undefined => {
  let result: Exit.Exit<unknown, unknown> | Suspended
  try {
    result = Exit.isExit(effect) ? effect : host.evaluate(effect)
  } catch (defect) {
    result = Exit.die(defect)
  }
  if (result instanceof Suspended) {
    const fiber = Runtime.runFork(result.runtime, result.effect)
    return Effect.onInterrupt(Fiber.join(fiber), () => Fiber.interrupt(fiber))
  }
  return result._tag === "Success" ? undefined : result
}
