/**
 * The chat protocol in process, on the in-memory transport, through the typed
 * wirekit `Client`: commands are requests, said lines one-way, the rest pushes.
 */
import { describe, it } from "@effect/vitest"
import { Backplane, Client, MemoryTransport } from "@wirekit/core"
import { Duration, Effect, Exit, Layer, Logger, LogLevel, Queue, Schedule, Scope } from "effect"
import { expect } from "vitest"
import * as ChatRoom from "../src/Chat.ts"

/** Takes pushes until one satisfies `pick` (skipping announcements); fails after 2 s. */
const next = <A extends ChatRoom.Push>(inbox: Queue.Dequeue<ChatRoom.Push>, pick: (p: ChatRoom.Push) => p is A) =>
  Effect.gen(function*() {
    for (;;) {
      const push = yield* Queue.take(inbox)
      if (pick(push)) return push
    }
  }).pipe(Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => new Error("no such push within 2 s") }))

/** An isolated in-memory network, with the server's Info logs silenced. */
const network = Layer.merge(MemoryTransport.layer(), Logger.minimumLogLevel(LogLevel.Warning))

/** Polls `check` every 10 ms until it holds; fails after 2 s. */
const eventually = (check: () => boolean) =>
  Effect.suspend(() => (check() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry(Schedule.spaced("10 millis")),
    Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => new Error("condition still false after 2 s") })
  )

const isMessage = (p: ChatRoom.Push): p is ChatRoom.Message => p._tag === "Message"
const isPrivate = (p: ChatRoom.Push): p is ChatRoom.Private => p._tag === "Private"
const leaving = (p: ChatRoom.Push): p is ChatRoom.Notice => p._tag === "Notice" && p.text.includes(" left ")

describe("the chat protocol with a typed client (memory transport)", () => {
  it.scopedLive("requests get Ok or typed ErrorLine answers, said lines arrive as Message pushes, /quit closes", () =>
    Effect.gen(function*() {
      const server = yield* ChatRoom.serve({ host: "127.0.0.1", port: 0 })
      const alice = yield* Client.make(ChatRoom.Chat, server.address, { requestTimeout: "2 seconds" })
      const bob = yield* Client.make(ChatRoom.Chat, server.address, { requestTimeout: "2 seconds" })
      const aliceInbox = yield* alice.subscribe
      const bobInbox = yield* bob.subscribe
      expect(yield* alice.request({ _tag: "Nick", name: "alice" })).toEqual({ _tag: "Ok", text: "you are now alice" })
      expect(yield* bob.request({ _tag: "Nick", name: "bob" })).toEqual({ _tag: "Ok", text: "you are now bob" })

      // a typed error response
      expect(yield* Effect.flip(alice.request({ _tag: "Nick", name: "Bob" }))).toEqual({
        _tag: "Error",
        text: "nick Bob is taken"
      })
      expect(yield* Effect.flip(alice.request({ _tag: "Unknown", command: "dance" }))).toEqual({
        _tag: "Error",
        text: "unknown command /dance; try /help"
      })

      // a one-way line, relayed to the room as a push; "/" at the start survives the // escape
      yield* alice.send({ _tag: "Say", text: "/hi bob" })
      expect(yield* next(bobInbox, isMessage)).toEqual({ _tag: "Message", from: "alice", text: "/hi bob" })

      // the client refuses a line the server would answer out of turn; the link stays in step
      const refused = yield* Effect.flip(
        alice.send({ _tag: "Say", text: "x".repeat(ChatRoom.DEFAULT_MAX_LINE_LENGTH + 1) })
      )
      expect(refused).toBeInstanceOf(Client.ClientError)
      expect((refused as Client.ClientError).reason).toBe("Encode")
      expect(yield* alice.request({ _tag: "Who" })).toEqual({ _tag: "Ok", text: "#lobby (2): alice, bob" })

      // a private push to one connection
      expect(yield* bob.request({ _tag: "Msg", to: "ALICE", text: "psst" })).toEqual({
        _tag: "Ok",
        text: "sent to alice"
      })
      expect(yield* next(aliceInbox, isPrivate)).toEqual({ _tag: "Private", from: "bob", text: "psst" })

      expect(yield* alice.request({ _tag: "Quit", reason: "" })).toEqual({ _tag: "Ok", text: "bye" })
      expect((yield* next(bobInbox, leaving)).text).toBe("alice left #lobby (quit)")
      expect(server.sessions().length).toBe(1)
      // nothing said by bob reached his own inbox
      const rest = yield* Queue.takeAll(bobInbox)
      expect([...rest].filter((p) => p._tag === "Message" && p.from === "bob")).toEqual([])
    }).pipe(Effect.provide(network)))

  it.scopedLive("the shutdown notice reaches every client and is recognised as draining, not as a push", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Scope.extend(ChatRoom.serve({ host: "127.0.0.1", port: 0 }), scope)
      const client = yield* Client.make(ChatRoom.Chat, server.address, { requestTimeout: "2 seconds" })
      const inbox = yield* client.subscribe
      yield* client.request({ _tag: "Who" })
      expect(client.stats().connected).toBe(1)
      yield* Scope.close(scope, Exit.void)
      // the notice precedes the end of the stream: once the link is down, it has been read
      yield* eventually(() => client.stats().connected === 0)
      const pushes = yield* Queue.takeAll(inbox)
      expect([...pushes].filter((p) => p._tag === "Notice" && p.text === ChatRoom.SHUTTING_DOWN.text)).toEqual([])
      const after = yield* Effect.flip(client.request({ _tag: "Who" }))
      expect(after).toBeInstanceOf(Client.ClientError)
      expect((after as Client.ClientError).reason).toBe("Disconnected")
    }).pipe(Effect.provide(network)))
})

describe("chat servers sharing rooms (in-process backplane)", () => {
  it.scopedLive("two servers on one hub: messages, /who, /msg and taken nicknames span both", () =>
    Effect.gen(function*() {
      const hub = Backplane.makeHub()
      // each server a node of its own, as two processes would be
      const nodeA = yield* Layer.build(Backplane.layerMemory({ hub }))
      const nodeB = yield* Layer.build(Backplane.layerMemory({ hub }))
      const serverA = yield* Effect.provide(ChatRoom.serve({ host: "127.0.0.1", port: 0 }), nodeA)
      const serverB = yield* Effect.provide(ChatRoom.serve({ host: "127.0.0.1", port: 0 }), nodeB)
      expect(serverA.groups.stats()).toMatchObject({ backplane: "memory", status: "up" })
      const alice = yield* Client.make(ChatRoom.Chat, serverA.address, { requestTimeout: "2 seconds" })
      const bob = yield* Client.make(ChatRoom.Chat, serverB.address, { requestTimeout: "2 seconds" })
      const aliceInbox = yield* alice.subscribe
      const bobInbox = yield* bob.subscribe
      expect(yield* alice.request({ _tag: "Nick", name: "alice" })).toEqual({ _tag: "Ok", text: "you are now alice" })
      expect(yield* bob.request({ _tag: "Nick", name: "bob" })).toEqual({ _tag: "Ok", text: "you are now bob" })
      expect(yield* Effect.flip(alice.request({ _tag: "Nick", name: "BOB" }))).toEqual({
        _tag: "Error",
        text: "nick BOB is taken"
      })

      yield* alice.send({ _tag: "Say", text: "hi from A" })
      expect(yield* next(bobInbox, isMessage)).toEqual({ _tag: "Message", from: "alice", text: "hi from A" })
      expect(yield* bob.request({ _tag: "Who" })).toEqual({ _tag: "Ok", text: "#lobby (2): alice, bob" })
      expect(yield* bob.request({ _tag: "Msg", to: "Alice", text: "psst" })).toEqual({
        _tag: "Ok",
        text: "sent to alice"
      })
      expect(yield* next(aliceInbox, isPrivate)).toEqual({ _tag: "Private", from: "bob", text: "psst" })
      expect(yield* Effect.flip(bob.request({ _tag: "Msg", to: "carol", text: "hi" }))).toEqual({
        _tag: "Error",
        text: "no such nick: carol"
      })

      yield* alice.request({ _tag: "Quit", reason: "" })
      expect((yield* next(bobInbox, leaving)).text).toBe("alice left #lobby (quit)")
      yield* eventually(() => serverA.sessions().length === 0)
      expect(yield* bob.request({ _tag: "Who" })).toEqual({ _tag: "Ok", text: "#lobby (1): bob" })
    }).pipe(Effect.provide(network)))
})

describe("the chat wire format", () => {
  it("parses and formats client lines", () => {
    expect(ChatRoom.parseInbound("hello")).toEqual({ _tag: "Say", text: "hello" })
    expect(ChatRoom.parseInbound("//etc/passwd")).toEqual({ _tag: "Say", text: "/etc/passwd" })
    expect(ChatRoom.parseInbound("/NICK   alice ")).toEqual({ _tag: "Nick", name: "alice" })
    expect(ChatRoom.parseInbound("/join #rust")).toEqual({ _tag: "Join", room: "#rust" })
    expect(ChatRoom.parseInbound("/msg bob  hi  there")).toEqual({ _tag: "Msg", to: "bob", text: "hi  there" })
    expect(ChatRoom.parseInbound("/quit")).toEqual({ _tag: "Quit", reason: "" })
    expect(ChatRoom.parseInbound("/")).toEqual({ _tag: "Unknown", command: "" })
    const all: Array<ChatRoom.Inbound> = [
      { _tag: "Say", text: "/not a command" },
      { _tag: "Nick", name: "x" },
      { _tag: "Join", room: "r" },
      { _tag: "Who" },
      { _tag: "Msg", to: "bob", text: "hi" },
      { _tag: "Quit", reason: "late" },
      { _tag: "Help" },
      { _tag: "Unknown", command: "dance" }
    ]
    for (const m of all) expect(ChatRoom.parseInbound(ChatRoom.formatInbound(m)!)).toEqual(m)
  })

  it("parses and formats server lines", () => {
    const all: Array<ChatRoom.Outbound> = [
      { _tag: "Ok", text: "you are now alice" },
      { _tag: "Error", text: "nick bob is taken" },
      { _tag: "Message", from: "alice", text: "<b> * not a prefix" },
      { _tag: "Private", from: "bob", text: "psst" },
      { _tag: "Notice", text: "alice joined #lobby" }
    ]
    for (const m of all) expect(ChatRoom.parseOutbound(ChatRoom.formatOutbound(m))).toEqual(m)
    expect(ChatRoom.parseOutbound("hello")).toBeUndefined()
  })

  it("removes control characters from relayed text", () => {
    expect(ChatRoom.sanitize("\u001b[31mred\u0007\r\tok\u0085")).toBe("[31mred\tok")
  })
})
