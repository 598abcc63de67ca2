/**
 * Named broadcast groups of sessions (chat rooms, topics).
 *
 * A server has one `Groups`; handlers reach it as `context.groups` (typed with
 * the protocol's push type) or as the {@link Groups} service. A session's
 * memberships end when its connection ends.
 *
 * ```
 *   join("lobby", s1) join("lobby", s2) join("lobby", s3)
 *   broadcast("lobby", msg)                    → s1, s2, s3 each get msg as a push
 *   broadcast("lobby", msg, { except: s1 })    → s2, s3
 *   s2 disconnects                             → members("lobby") = [s1, s3]
 * ```
 *
 * Broadcasting never waits for a slow member: each push is written with the
 * member's next write; a member over the server's `maxWriteBuffer` is
 * disconnected instead.
 *
 * @example
 * ```ts
 * // a request handler: JOIN a room, or SAY something to it
 * const handler: ProtocolServer.HandlerFor<typeof Chat, never> = (req, { session, groups }) =>
 *   req._tag === "Join"
 *     ? Effect.as(groups.join(req.room, session), { _tag: "Joined" } as const)
 *     : Effect.map(groups.broadcast(req.room, { _tag: "Said", text: req.text }, { except: session }),
 *         (delivered) => ({ _tag: "Sent", delivered }) as const)
 * ```
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import type { Session } from "./Session.ts"

/** Options of {@link Groups.broadcast}. */
export interface BroadcastOptions<Push> {
  /** A session that must not receive it (typically the sender). */
  readonly except?: Session<Push> | undefined
}

/** Named groups of sessions. */
export interface Groups<Push = unknown> {
  /** Adds the session to the group (idempotent). A closed session is not added. */
  join(group: string, session: Session<Push>): Effect.Effect<void>
  /** Removes the session from the group (idempotent). */
  leave(group: string, session: Session<Push>): Effect.Effect<void>
  /** Pushes `message` to every member; returns how many it was sent to. */
  broadcast(group: string, message: Push, options?: BroadcastOptions<Push>): Effect.Effect<number>
  /** {@link Groups.broadcast} as a plain call. */
  unsafeBroadcast(group: string, message: Push, options?: BroadcastOptions<Push>): number
  /** The current members (a snapshot). */
  members(group: string): ReadonlyArray<Session<Push>>
  /** The names of the non-empty groups. */
  names(): ReadonlyArray<string>
  /** The groups a session belongs to. */
  of(session: Session<Push>): ReadonlyArray<string>
  /** Removes the session from every group (done by the server when its connection ends). */
  unsafeLeaveAll(session: Session<Push>): void
  /** {@link Groups.join} as a plain call. */
  unsafeJoin(group: string, session: Session<Push>): void
  /** {@link Groups.leave} as a plain call. */
  unsafeLeave(group: string, session: Session<Push>): void
}

/**
 * The server's groups, as a service inside handlers (push typed `unknown`:
 * prefer the typed `context.groups`).
 *
 * ```ts
 * const announce = (text: string) => Effect.flatMap(Groups.Groups, (g) => g.broadcast("lobby", `* ${text}`))
 * ```
 */
export const Groups: Context.Tag<Groups, Groups> = Context.GenericTag<Groups>("@wirekit/core/Groups")

/**
 * Creates an empty set of groups. A server makes its own; use this for
 * groups shared by several servers (pass it in `ServeOptions.groups`).
 *
 * @example
 * ```ts
 * const groups = Groups.make<string>()
 * groups.unsafeJoin("room", session)
 * groups.unsafeBroadcast("room", "* hello")
 * ```
 */
export const make = <Push = unknown>(): Groups<Push> => {
  const byName = new Map<string, Set<Session<Push>>>()
  const bySession = new Map<Session<Push>, Set<string>>()

  const unsafeJoin = (group: string, session: Session<Push>): void => {
    if (!session.isOpen()) return
    let members = byName.get(group)
    if (members === undefined) byName.set(group, (members = new Set()))
    members.add(session)
    let names = bySession.get(session)
    if (names === undefined) bySession.set(session, (names = new Set()))
    names.add(group)
  }
  const unsafeLeave = (group: string, session: Session<Push>): void => {
    const members = byName.get(group)
    if (members !== undefined) {
      members.delete(session)
      if (members.size === 0) byName.delete(group)
    }
    const names = bySession.get(session)
    if (names !== undefined) {
      names.delete(group)
      if (names.size === 0) bySession.delete(session)
    }
  }
  const unsafeLeaveAll = (session: Session<Push>): void => {
    const names = bySession.get(session)
    if (names === undefined) return
    for (const group of [...names]) unsafeLeave(group, session)
  }
  const unsafeBroadcast = (group: string, message: Push, options?: BroadcastOptions<Push>): number => {
    const members = byName.get(group)
    if (members === undefined) return 0
    const except = options?.except
    let sent = 0
    // a snapshot: a push may close a slow member, which leaves the group
    for (const member of [...members]) {
      if (member !== except && member.unsafePush(message)) sent++
    }
    return sent
  }
  return {
    join: (group, session) => Effect.sync(() => unsafeJoin(group, session)),
    leave: (group, session) => Effect.sync(() => unsafeLeave(group, session)),
    broadcast: (group, message, options) => Effect.sync(() => unsafeBroadcast(group, message, options)),
    unsafeBroadcast,
    members: (group) => [...(byName.get(group) ?? [])],
    names: () => [...byName.keys()],
    of: (session) => [...(bySession.get(session) ?? [])],
    unsafeLeaveAll,
    unsafeJoin,
    unsafeLeave
  }
}
