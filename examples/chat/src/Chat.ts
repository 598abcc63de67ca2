/**
 * A line-protocol chat room, written once against `@wirekit/core` only: the
 * entry points (main*.ts) pick the runtime. Usable with plain `nc` / `telnet`.
 *
 * Wire format: one UTF-8 line per message, LF or CRLF from the client, CRLF
 * from the server.
 *
 * ```
 *   client → server                          server → client
 *   hello everyone      say to your room     <alice> hello everyone   a message from alice (push)
 *   //etc               say "/etc"           *alice* psst             a private message (push)
 *   /nick NAME          rename               * bob joined #lobby      a notice (push)
 *   /join ROOM          move to ROOM         + you are now bob        the answer to a command
 *   /who                who is here          ! nick bob is taken      a command that failed
 *   /msg NICK TEXT      private message
 *   /quit [REASON]      say bye, close
 *   /help               the commands
 * ```
 *
 * As a wirekit {@link Protocol.Protocol} (built with `Protocol.make`):
 *
 * - a line that is not a command ({@link Say}) is a one-way message: the
 *   server relays it to the sender's room (a broadcast to a group, the
 *   sender excluded: nobody gets their own lines echoed back);
 * - a command ({@link Command}) is a request: exactly one answer line, `+ `
 *   ({@link Ok}) or `! ` ({@link ErrorLine}), in command order;
 * - `<nick> ...`, `*nick* ...` and `* ...` lines are pushes: broadcast to a
 *   room (messages, announcements), or pushed to one connection (the
 *   welcome line, private messages).
 *
 * Policies:
 *
 * - every connection gets a unique nickname (`guest-N`; N random when
 *   servers share rooms) and starts in `#lobby`; it is in exactly one room
 *   at a time;
 * - a line longer than `maxLineLength` bytes (default 512) is dropped and
 *   answered with `! line too long (N bytes, max M); not sent`; the connection
 *   stays open. Memory stays bounded however long the line: past the framing
 *   limit (`maxLineLength` + 16 KiB) its bytes are discarded as they arrive;
 * - a line that is not valid UTF-8 is answered with `! BadRequest: ...`
 *   and not sent; the connection stays open;
 * - control characters (terminal escapes, CR, ...) are removed from relayed
 *   text; empty and blank lines are ignored;
 * - on shutdown (SIGINT/SIGTERM) every client gets `* server is shutting down`
 *   and is closed.
 *
 * Several chat servers (processes, machines) share their rooms when they
 * share a {@link Backplane.Backplane} (`--backplane redis://...`): messages,
 * joins and leaves reach every server's clients, `/who` lists everyone in
 * the room, `/msg NICK` reaches NICK on any server (each connection is the
 * one member of its nick's group, `@nick`), and a nickname taken on any
 * server is refused. Nicknames are checked, not locked: two servers that
 * check the same free name at the same moment can both give it (the
 * nickname's group then has two members, both get its private messages);
 * during a backplane outage `/nick` is refused, guests are named from this
 * server's view, and `/who` lists this server's clients (saying so).
 *
 * @since 0.1.0
 */
import { Address, Backplane, Groups, Lines, MessageCodec, Protocol, ProtocolServer, Session } from "@wirekit/core"
import type { Framing, ProxyProtocol, Tls, Transport } from "@wirekit/core"
import { Duration, Effect, Either, Layer, Option, Random } from "effect"
import type { Scope } from "effect"

// ---------------------------------------------------------------------------
// messages
// ---------------------------------------------------------------------------

/** A line that is not a command: said to the sender's room (one-way, no answer). */
export interface Say {
  readonly _tag: "Say"
  readonly text: string
}

/** `/nick NAME`: take a new nickname. */
export interface Nick {
  readonly _tag: "Nick"
  readonly name: string
}

/** `/join ROOM`: leave the current room for ROOM (`#` optional). */
export interface Join {
  readonly _tag: "Join"
  readonly room: string
}

/** `/who`: who is in my room. */
export interface Who {
  readonly _tag: "Who"
}

/** `/msg NICK TEXT`: a private message to one person (anywhere). */
export interface Msg {
  readonly _tag: "Msg"
  readonly to: string
  readonly text: string
}

/** `/quit [REASON]`: say bye and close. */
export interface Quit {
  readonly _tag: "Quit"
  readonly reason: string
}

/** `/help`: the list of commands. */
export interface Help {
  readonly _tag: "Help"
}

/** Any other `/word`. */
export interface Unknown {
  readonly _tag: "Unknown"
  readonly command: string
}

/** A line over the limit (never sent by a client: made by the server's decoder, to be answered). */
export interface TooLong {
  readonly _tag: "TooLong"
  /** Its length in bytes. */
  readonly length: number
  readonly limit: number
}

/** The client → server lines that get an answer. */
export type Command = Nick | Join | Who | Msg | Quit | Help | Unknown | TooLong

/** Every client → server line. */
export type Inbound = Say | Command

/** `+ TEXT`: a command succeeded. */
export interface Ok {
  readonly _tag: "Ok"
  readonly text: string
}

/** `! TEXT`: a command failed (or the line could not be handled). */
export interface ErrorLine {
  readonly _tag: "Error"
  readonly text: string
}

/** `<FROM> TEXT`: someone said something in your room. */
export interface Message {
  readonly _tag: "Message"
  readonly from: string
  readonly text: string
}

/** `*FROM* TEXT`: a private message. */
export interface Private {
  readonly _tag: "Private"
  readonly from: string
  readonly text: string
}

/** `* TEXT`: an announcement (joins, leaves, renames, welcome, shutdown). */
export interface Notice {
  readonly _tag: "Notice"
  readonly text: string
}

/** Server → client lines sent without being asked. */
export type Push = Message | Private | Notice

/** Every server → client line. */
export type Outbound = Ok | ErrorLine | Push

// ---------------------------------------------------------------------------
// the wire format
// ---------------------------------------------------------------------------

/** Default largest line a client may send, in bytes (line end excluded). */
export const DEFAULT_MAX_LINE_LENGTH = 512

/** The room every connection starts in. */
export const DEFAULT_ROOM = "lobby"

/** Bytes of slack the framing allows past the line limit (so that answers with a nick prefix fit). */
const FRAMING_SLACK = 16 * 1024

/** Frames made by the decoder for a discarded line start with LF: real lines never contain one. */
const LF = 0x0a

/**
 * Parses one client line.
 *
 * ```ts
 * parseInbound("hi")           // { _tag: "Say", text: "hi" }
 * parseInbound("//etc")        // { _tag: "Say", text: "/etc" }
 * parseInbound("/NICK  alice") // { _tag: "Nick", name: "alice" }
 * ```
 */
export const parseInbound = (line: string): Inbound => {
  if (!line.startsWith("/")) return { _tag: "Say", text: line }
  if (line.startsWith("//")) return { _tag: "Say", text: line.slice(1) }
  const space = line.search(/\s/)
  const command = (space < 0 ? line.slice(1) : line.slice(1, space)).toLowerCase()
  const arg = space < 0 ? "" : line.slice(space).trim()
  switch (command) {
    case "nick":
      return { _tag: "Nick", name: arg }
    case "join":
      return { _tag: "Join", room: arg }
    case "who":
      return { _tag: "Who" }
    case "msg": {
      const sep = arg.search(/\s/)
      return sep < 0
        ? { _tag: "Msg", to: arg, text: "" }
        : { _tag: "Msg", to: arg.slice(0, sep), text: arg.slice(sep).trim() }
    }
    case "quit":
      return { _tag: "Quit", reason: arg }
    case "help":
      return { _tag: "Help" }
    default:
      return { _tag: "Unknown", command }
  }
}

/**
 * The line a client sends for a message (what {@link parseInbound} reads back).
 * `undefined` for {@link TooLong}, which only the server makes.
 */
export const formatInbound = (message: Inbound): string | undefined => {
  switch (message._tag) {
    case "Say":
      return message.text.startsWith("/") ? `/${message.text}` : message.text
    case "Nick":
      return `/nick ${message.name}`
    case "Join":
      return `/join ${message.room}`
    case "Who":
      return "/who"
    case "Msg":
      return `/msg ${message.to} ${message.text}`
    case "Quit":
      return message.reason === "" ? "/quit" : `/quit ${message.reason}`
    case "Help":
      return "/help"
    case "Unknown":
      return `/${message.command}`
    case "TooLong":
      return undefined
  }
}

/**
 * The line the server sends for a message.
 *
 * ```ts
 * formatOutbound({ _tag: "Message", from: "alice", text: "hi" }) // "<alice> hi"
 * ```
 */
export const formatOutbound = (message: Outbound): string => {
  switch (message._tag) {
    case "Ok":
      return `+ ${message.text}`
    case "Error":
      return `! ${message.text}`
    case "Message":
      return `<${message.from}> ${message.text}`
    case "Private":
      return `*${message.from}* ${message.text}`
    case "Notice":
      return `* ${message.text}`
  }
}

/** Parses a server line (what {@link formatOutbound} writes); `undefined` if it is not one. */
export const parseOutbound = (line: string): Outbound | undefined => {
  if (line.startsWith("+ ")) return { _tag: "Ok", text: line.slice(2) }
  if (line.startsWith("! ")) return { _tag: "Error", text: line.slice(2) }
  if (line.startsWith("* ")) return { _tag: "Notice", text: line.slice(2) }
  let m = /^<([^\s>]+)> ([\s\S]*)$/.exec(line)
  if (m !== null) return { _tag: "Message", from: m[1]!, text: m[2]! }
  m = /^\*([^\s*]+)\* ([\s\S]*)$/.exec(line)
  if (m !== null) return { _tag: "Private", from: m[1]!, text: m[2]! }
  return undefined
}

const utf8 = new TextEncoder()
const ascii = new TextDecoder()

/** The frame standing for a line of `length` bytes that the framing discarded. */
const discardedFrame = (length: number): Uint8Array => utf8.encode(`\n${length}`)

/**
 * Line framing that never closes a connection for a long line: lines are cut
 * at LF (CR before it dropped); a line over `maxLength` is discarded as it
 * arrives (bounded memory) and replaced, in its place in the stream, by a
 * marker frame (LF + its length) that {@link inboundCodec} turns into a
 * {@link TooLong} message. An unterminated last line is still delivered at end
 * of stream (`printf 'hi' | nc ...`). Writes CRLF.
 */
export const framing = (maxLength: number): Framing.Framing => {
  const writer = Lines.make({ maxLength })
  return {
    codec: "ChatLines",
    maxFrameLength: maxLength,
    decoder: () => {
      // the frames array of the decode call in progress: the marker goes in its place among them
      let sink: Array<Uint8Array> | undefined
      const lines = Lines.make({
        maxLength,
        onTooLong: "discard",
        emitLastLineAtEof: true,
        onDiscard: ({ actual }) => {
          sink?.push(discardedFrame(actual))
        }
      }).decoder()
      return {
        decode: (chunk, out) => {
          sink = out
          try {
            return lines.decode(chunk, out)
          } finally {
            sink = undefined
          }
        },
        finish: (out) => {
          sink = out
          try {
            return lines.finish(out)
          } finally {
            sink = undefined
          }
        },
        get buffered() {
          return lines.buffered
        }
      }
    },
    encoder: () => writer.encoder()
  }
}

/**
 * Client → server lines: UTF-8 (invalid UTF-8 is a decode error, answered
 * with a `BadRequest` fault), lines over `maxLineLength` bytes (or discarded
 * by the framing) become {@link TooLong}. The encoder (client side) refuses
 * lines over `maxLineLength` bytes.
 */
export const inboundCodec = (maxLineLength: number): MessageCodec.MessageCodec<Inbound> => ({
  name: "chat",
  decoder: () => {
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
    return (frame) => {
      if (frame.length > 0 && frame[0] === LF) {
        return Either.right({ _tag: "TooLong", length: Number(ascii.decode(frame.subarray(1))), limit: maxLineLength })
      }
      if (frame.length > maxLineLength) {
        return Either.right({ _tag: "TooLong", length: frame.length, limit: maxLineLength })
      }
      try {
        return Either.right(parseInbound(decoder.decode(frame)))
      } catch {
        return Either.left(
          new MessageCodec.MessageError({
            reason: "Decode",
            codec: "chat",
            detail: "the line is not valid UTF-8; not sent"
          })
        )
      }
    }
  },
  // a typed client refuses to send what the server would answer out of turn: a said line over
  // the limit would come back as the answer to a (TooLong) request the client never made
  encoder: () => (message) => {
    const line = formatInbound(message)
    if (line === undefined) {
      return Either.left(
        new MessageCodec.MessageError({
          reason: "Encode",
          codec: "chat",
          detail: `${message._tag} is not sent by clients`
        })
      )
    }
    const bytes = utf8.encode(line)
    return bytes.length > maxLineLength
      ? Either.left(
        new MessageCodec.MessageError({
          reason: "Encode",
          codec: "chat",
          detail: `line too long (${bytes.length} bytes, max ${maxLineLength})`
        })
      )
      : Either.right(bytes)
  }
})

/** Server → client lines (see {@link formatOutbound}). */
export const outboundCodec: MessageCodec.MessageCodec<Outbound> = {
  name: "chat",
  decoder: () => {
    const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
    return (frame) => {
      const line = decoder.decode(frame)
      const message = parseOutbound(line)
      return message === undefined
        ? Either.left(
          new MessageCodec.MessageError({
            reason: "Decode",
            codec: "chat",
            detail: `not a chat line: ${line.slice(0, 80)}`
          })
        )
        : Either.right(message)
    }
  },
  encoder: () => (message) => Either.right(utf8.encode(formatOutbound(message)))
}

const faultLine = /^(BadRequest|Internal|Timeout|Overloaded|RateLimited|ShuttingDown|Unauthorized)(?:: ([\s\S]*))?$/

/** What the server says to everyone when it starts shutting down. */
export const SHUTTING_DOWN: Notice = { _tag: "Notice", text: "server is shutting down" }

/** Options of {@link make}. */
export interface ProtocolOptions {
  /** Largest line a client may send, in bytes. Default {@link DEFAULT_MAX_LINE_LENGTH}. */
  readonly maxLineLength?: number | undefined
}

/**
 * The chat protocol: commands are requests, said lines one-way, and
 * `<..>`/`*..*`/`* ` lines pushes. Faults (bad UTF-8, timeouts, ...) are sent
 * as `! Reason: detail` error lines.
 *
 * @example
 * ```ts
 * const Chat = ChatRoom.make()
 * const client = yield* Client.make(Chat, address)
 * yield* client.request({ _tag: "Nick", name: "alice" }) // { _tag: "Ok", text: "you are now alice" }
 * yield* client.send({ _tag: "Say", text: "hello" })
 * ```
 */
export const make = (options?: ProtocolOptions) => {
  const maxLineLength = options?.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH
  return Protocol.make<Inbound, Outbound, Say, Push, ErrorLine>({
    name: "chat",
    framing: framing(maxLineLength + FRAMING_SLACK),
    inbound: inboundCodec(maxLineLength),
    outbound: outboundCodec,
    isOneWay: (m): m is Say => m._tag === "Say",
    isPush: (m): m is Push => m._tag === "Message" || m._tag === "Private" || m._tag === "Notice",
    isError: (m): m is ErrorLine => m._tag === "Error",
    fault: {
      // "BadRequest: chat: cannot decode message: the line is ..." → "BadRequest: the line is ..."
      encode: (fault) => ({ _tag: "Error", text: fault.message.replace(/: chat: cannot decode message: /, ": ") }),
      decode: (error) => {
        const m = faultLine.exec(error.text)
        if (m === null) return undefined
        const reason = m[1] as Protocol.ProtocolErrorReason
        return new Protocol.ProtocolError(m[2] === undefined ? { reason } : { reason, detail: m[2] })
      }
    },
    draining: { message: SHUTTING_DOWN, is: (m) => m._tag === "Notice" && m.text === SHUTTING_DOWN.text }
  })
}

/** The chat protocol with the default line limit. */
export const Chat = make()

/** The type of a chat protocol. */
export type ChatProtocol = typeof Chat

// ---------------------------------------------------------------------------
// the room server
// ---------------------------------------------------------------------------

/** Per connection: the nickname. */
const NickState = Session.state<string>("chat/nick", () => "")
/** Per connection: the room. */
const RoomState = Session.state<string>("chat/room", () => DEFAULT_ROOM)
/** Per connection: set by /quit (its reason, possibly ""). */
const QuitState = Session.state<string | undefined>("chat/quit", () => undefined)

const NICK = /^[A-Za-z][A-Za-z0-9_-]{0,19}$/
const ROOM = /^[a-z0-9][a-z0-9_-]{0,23}$/
/** Names listed by /who before "and N more". */
const WHO_MAX = 100

/**
 * The group whose one member is the connection named `nick` (any case), on
 * whichever server: what `/msg` and the nickname checks ask across servers.
 * Rooms never start with "@".
 */
const nickGroup = (nick: string): string => `@${nick.toLowerCase()}`

/** Removes control characters (C0 but tab, DEL, C1): no terminal escapes, no stray CR. */
export const sanitize = (text: string): string => text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, "")

const ok = (text: string) => Effect.succeed<Ok>({ _tag: "Ok", text })
const fail = (text: string) => Effect.fail<ErrorLine>({ _tag: "Error", text })
const notice = (text: string): Notice => ({ _tag: "Notice", text })

const HELP = "commands: /nick NAME, /join ROOM, /who, /msg NICK TEXT, /quit [REASON], /help;" +
  " any other line is said to your room (start it with // to say a line beginning with /)"

/**
 * The state of one chat server (nicknames, guest numbering) and its
 * handlers. Said lines are relayed when they are handled; the commands that
 * may ask other servers (`/nick`, `/join`, `/who`, `/msg` to someone not on
 * this server) wait for the backplane's answer (at once without one).
 */
export const makeRoom = () => {
  type S = Session.Session<Push>
  type G = Groups.Groups<Push>
  /** Lower-cased nickname → its session. */
  const nicks = new Map<string, S>()
  let guests = 0

  const nickOf = (s: S) => s.get(NickState)

  /** Whether a connection other than `self` has `nick` on some server; `undefined` when that cannot be told now. */
  const takenElsewhere = (groups: G, nick: string, self?: S): Effect.Effect<boolean | undefined> =>
    groups.membersEverywhere(nickGroup(nick)).pipe(
      Effect.map((members) =>
        members.some((m) => !(self !== undefined && m.node === groups.node && m.session === self.id))
      ),
      Effect.orElseSucceed(() => undefined)
    )

  /**
   * The next free guest-N: N counts up on a server of its own. Across
   * servers, counting would give two servers' newcomers the same name
   * whenever they arrive together (each checks, neither has taken it yet):
   * N is random there, with more digits after each few names found taken.
   */
  const guestName = (groups: G) =>
    Effect.gen(function*() {
      const shared = groups.stats().backplane !== undefined
      for (let attempt = 0;; attempt++) {
        const n = shared ? yield* Random.nextIntBetween(1, 10 ** (5 + Math.floor(attempt / 4))) : ++guests
        const name = `guest-${n}`
        // an outage: this server's view is all there is
        if (!nicks.has(name) && (yield* takenElsewhere(groups, name)) !== true) return name
      }
    })

  /** How many are in `room` on every server (this server's count during an outage). */
  const countEverywhere = (groups: G, room: string): Effect.Effect<number> =>
    groups.membersEverywhere(room).pipe(
      Effect.map((members) => members.length),
      Effect.orElseSucceed(() => groups.members(room).length)
    )

  /** Connection middleware: name the newcomer, put it in the lobby, greet it; announce its leaving. */
  const onConnect: ProtocolServer.ConnectionMiddleware<Session.Session | Groups.Groups | Scope.Scope> = Effect.gen(
    function*() {
      const session = (yield* Session.Session) as S
      const groups = (yield* Groups.Groups) as G
      const nick = yield* guestName(groups)
      nicks.set(nick, session)
      session.set(NickState, nick)
      session.set(RoomState, DEFAULT_ROOM)
      groups.unsafeSetMeta(session, { nick })
      groups.unsafeJoin(nickGroup(nick), session)
      const others = yield* countEverywhere(groups, DEFAULT_ROOM)
      // joined before it is announced (whoever hears of it, on any server, finds it in /who), and
      // greeted at once after (the welcome is its first line)
      groups.unsafeJoin(DEFAULT_ROOM, session)
      groups.unsafeBroadcast(DEFAULT_ROOM, notice(`${nick} joined #${DEFAULT_ROOM}`), { except: session })
      session.unsafePush(
        notice(
          `welcome to wirekit chat, ${nick}! you are in #${DEFAULT_ROOM} with ${others} other(s); /help lists the commands`
        )
      )
      // its first command is read once the other servers can see its name (a newcomer there will not get it)
      yield* Effect.ignore(groups.flush)
      // the connection's scope closes after the server removed it from its groups
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          const name = nickOf(session)
          if (nicks.get(name.toLowerCase()) === session) nicks.delete(name.toLowerCase())
          const room = session.get(RoomState)
          const quit = session.get(QuitState)
          const why = quit === undefined ? "disconnected" : quit === "" ? "quit" : `quit: ${quit}`
          groups.unsafeBroadcast(room, notice(`${name} left #${room} (${why})`))
        })
      )
    }
  )

  const rename = (session: S, groups: G, name: string) => {
    if (!NICK.test(name)) return fail("usage: /nick NAME (1-20 letters, digits, - or _, starting with a letter)")
    const old = nickOf(session)
    if (name === old) return ok(`you are already ${name}`)
    const taken = () => {
      const holder = nicks.get(name.toLowerCase())
      return holder !== undefined && holder !== session
    }
    if (taken()) return fail(`nick ${name} is taken`)
    return Effect.flatMap(takenElsewhere(groups, name, session), (elsewhere) => {
      if (elsewhere === undefined) {
        return fail(`cannot check nick ${name} with the other servers right now; try again later`)
      }
      // asked again: another connection of this server may have taken it meanwhile
      if (elsewhere || taken()) return fail(`nick ${name} is taken`)
      nicks.delete(old.toLowerCase())
      nicks.set(name.toLowerCase(), session)
      session.set(NickState, name)
      groups.unsafeLeave(nickGroup(old), session)
      groups.unsafeSetMeta(session, { nick: name })
      groups.unsafeJoin(nickGroup(name), session)
      groups.unsafeBroadcast(session.get(RoomState), notice(`${old} is now ${name}`), { except: session })
      // confirmed once the other servers can see it: whoever asks for it from then on finds it taken
      return Effect.as(Effect.ignore(groups.flush), { _tag: "Ok", text: `you are now ${name}` } satisfies Ok)
    })
  }

  const join = (session: S, groups: G, arg: string) => {
    const room = arg.replace(/^#/, "").toLowerCase()
    if (!ROOM.test(room)) return fail("usage: /join ROOM (1-24 letters, digits, - or _)")
    const old = session.get(RoomState)
    if (room === old) return ok(`you are already in #${room}`)
    const nick = nickOf(session)
    groups.unsafeLeave(old, session)
    // joined before either is announced: whoever hears of it (on any server) finds it in the new room
    groups.unsafeJoin(room, session)
    session.set(RoomState, room)
    groups.unsafeBroadcast(old, notice(`${nick} left #${old} (joined #${room})`))
    return Effect.map(countEverywhere(groups, room), (count): Ok => {
      groups.unsafeBroadcast(room, notice(`${nick} joined #${room}`), { except: session })
      return { _tag: "Ok", text: `you are now in #${room} with ${count - 1} other(s)` }
    })
  }

  const who = (session: S, groups: G) => {
    const room = session.get(RoomState)
    return Effect.map(Effect.either(groups.membersEverywhere(room)), (everywhere): Ok => {
      const names = (Either.isRight(everywhere)
        ? everywhere.right.map((m) => m.meta.nick ?? "?")
        : groups.members(room).map(nickOf))
        .sort((a, b) => a.localeCompare(b))
      const shown = names.slice(0, WHO_MAX).join(", ")
      const more = names.length > WHO_MAX ? ` and ${names.length - WHO_MAX} more` : ""
      const partial = Either.isLeft(everywhere) ? " (this server only: the others cannot be reached now)" : ""
      return { _tag: "Ok", text: `#${room} (${names.length}): ${shown}${more}${partial}` }
    })
  }

  const msg = (session: S, groups: G, to: string, text: string) => {
    const clean = sanitize(text)
    if (to === "" || clean.trim() === "") return fail("usage: /msg NICK TEXT")
    const message: Private = { _tag: "Private", from: nickOf(session), text: clean }
    const target = nicks.get(to.toLowerCase())
    if (target !== undefined) {
      if (!target.unsafePush(message)) return fail(`${to} is leaving`)
      return ok(`sent to ${nickOf(target)}`)
    }
    if (!NICK.test(to)) return fail(`no such nick: ${to}`)
    // on another server, if anywhere: its nick's group reaches it there
    return Effect.flatMap(Effect.either(groups.membersEverywhere(nickGroup(to))), (found) => {
      if (Either.isLeft(found)) return fail(`no such nick on this server: ${to} (the others cannot be reached now)`)
      const holder = found.right[0]
      if (holder === undefined) return fail(`no such nick: ${to}`)
      groups.unsafeBroadcast(nickGroup(to), message)
      return ok(`sent to ${holder.meta.nick ?? to}`)
    })
  }

  const handlers: ProtocolServer.Handlers<Command, Ok, ErrorLine | Protocol.ProtocolError, Say, never, Push> = {
    request: (command, { groups, session }) => {
      switch (command._tag) {
        case "Nick":
          return rename(session, groups, command.name)
        case "Join":
          return join(session, groups, command.room)
        case "Who":
          return who(session, groups)
        case "Msg":
          return msg(session, groups, command.to, command.text)
        case "Help":
          return ok(HELP)
        case "Unknown":
          return fail(`unknown command /${command.command}; try /help`)
        case "TooLong":
          return fail(`line too long (${command.length} bytes, max ${command.limit}); not sent`)
        case "Quit":
          // not an Exit on purpose: the close starts while this request is in flight,
          // so the server sends "bye" first, then closes (reading stops at once)
          return Effect.sync(() => {
            session.set(QuitState, sanitize(command.reason).trim())
            session.unsafeClose()
            return { _tag: "Ok", text: "bye" } as const
          })
      }
    },
    oneWay: (say, { groups, session }) => {
      const text = sanitize(say.text)
      if (text.trim() !== "") {
        groups.unsafeBroadcast(session.get(RoomState), { _tag: "Message", from: nickOf(session), text }, {
          except: session
        })
      }
      return Effect.void
    }
  }

  return {
    handlers,
    onConnect,
    /** The nicknames in use (a snapshot). */
    nicknames: (): ReadonlyArray<string> => [...nicks.values()].map(nickOf)
  }
}

// ---------------------------------------------------------------------------
// serving
// ---------------------------------------------------------------------------

/** Options of the chat server. */
export interface ChatOptions {
  readonly host: string
  readonly port: number
  /** Largest line a client may send, in bytes. Default {@link DEFAULT_MAX_LINE_LENGTH}. */
  readonly maxLineLength?: number | undefined
  /** Close a connection silent for this long. Default 1 hour. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Serve TLS with these options (plain TCP when absent). */
  readonly tls?: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers (`--proxy-protocol`); absent: clients connect directly. */
  readonly proxyProtocol?: ProxyProtocol.Options | undefined
  /**
   * Share rooms with the other chat servers on this backplane (e.g.
   * `RedisBackplane.layer({ url })`, what `--backplane` gives). Absent: this
   * server's rooms are its own; {@link serve} also uses a `Backplane` service
   * found in its context.
   */
  readonly backplane?: Layer.Layer<Backplane.Backplane, Backplane.BackplaneError> | undefined
}

/**
 * Serves the chat until the scope closes (then: `* server is shutting down`
 * to everyone, and every connection closed). With a `Backplane` service in
 * the context, its rooms span every chat server on that backplane.
 *
 * @example
 * ```ts
 * const server = yield* ChatRoom.serve({ host: "127.0.0.1", port: 0 })
 * ```
 */
export const serve = (
  options: ChatOptions
): Effect.Effect<ProtocolServer.ProtocolServer<Push>, Transport.ListenError, Transport.Transport | Scope.Scope> =>
  Effect.gen(function*() {
    const room = makeRoom()
    const backplane = yield* Effect.serviceOption(Backplane.Backplane)
    // made before the server, in its scope: the leave notices of its shutdown still go out
    const groups = Option.isNone(backplane)
      ? undefined
      : yield* Effect.provideService(Groups.withBackplane<Push>(), Backplane.Backplane, backplane.value)
    return yield* ProtocolServer.serve(make({ maxLineLength: options.maxLineLength }), room.handlers, {
      address: Address.tcp(options.host, options.port),
      connection: [room.onConnect],
      idleTimeout: options.idleTimeout ?? Duration.hours(1),
      // a person types slowly: little reason to pipeline more than this
      maxInFlight: 32,
      keepAlive: true,
      logConnections: true,
      tls: options.tls,
      proxyProtocol: options.proxyProtocol,
      groups
    })
  })

/**
 * The chat server as a Layer (needs a Transport): listens when built, logs
 * `chat: listening on HOST:PORT` (`... with TLS` when it serves TLS), shuts
 * down gracefully when released. With `options.backplane`, connects to it
 * first (failing if it cannot) and shares rooms through it.
 *
 * @example
 * ```ts
 * Layer.launch(ChatRoom.layer({ host: "127.0.0.1", port: 7001 })).pipe(Effect.provide(NodeTransport.layer), NodeRuntime.runMain)
 * ```
 */
export const layer = (
  options: ChatOptions
): Layer.Layer<never, Transport.ListenError | Backplane.BackplaneError, Transport.Transport> => {
  const chat = Layer.scopedDiscard(
    Effect.gen(function*() {
      const server = yield* serve(options)
      const address = server.address
      const tls = options.tls
      const hint = !Address.isTcp(address)
        ? ""
        : tls === undefined
        ? `; try: nc ${address.host} ${address.port}`
        : `; try: node examples/chat/dist/cli.js --port ${address.port} --tls${
          tls.requestCert ? " --tls-cert CERT --tls-key KEY" : ""
        }`
      const mode = tls === undefined ? "" : tls.requestCert ? " with TLS (client certificates required)" : " with TLS"
      yield* Effect.logInfo(`chat: listening on ${Address.format(address)}${mode}${hint}`)
      const shared = server.groups.stats()
      if (shared.backplane !== undefined) {
        yield* Effect.logInfo(
          `chat: rooms shared with the other servers on the ${shared.backplane} backplane (this node: ${shared.node})`
        )
      }
    })
  )
  return options.backplane === undefined ? chat : Layer.provide(chat, options.backplane)
}
