/**
 * Connection commands: PING ECHO QUIT SELECT HELLO CLIENT (SETNAME GETNAME ID SETINFO LIST INFO).
 *
 * @since 0.1.0
 */
import * as Reply from "../resp/Reply.ts"
import type { Session } from "../Session.ts"
import { own, toKey } from "../store/Binary.ts"
import { DB_OUT_OF_RANGE, is, NOT_INTEGER, parseInteger, quoted, wrongArity } from "./Args.ts"
import { type CommandSpec, container, type Context, spec } from "./Table.ts"

/** The version this server reports (`HELLO`, `INFO`). */
export const REDIS_VERSION = "7.0.0"

const ping = (args: ReadonlyArray<Uint8Array>): Reply.Reply => {
  if (args.length > 2) return wrongArity("ping")
  return args.length === 2 ? Reply.bulk(args[1]) : Reply.PONG
}

const quit = (_: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  ctx.session.closeRequested = true
  return Reply.OK
}

const select = (args: ReadonlyArray<Uint8Array>): Reply.Reply => {
  const db = parseInteger(args[1])
  if (db === undefined) return NOT_INTEGER
  return db === 0 ? Reply.OK : DB_OUT_OF_RANGE
}

/** Client names and library info: printable ASCII without spaces (`!` .. `~`). */
const printable = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] < 33 || bytes[i] > 126) return false
  return true
}

const BAD_NAME = Reply.err("Client names cannot contain spaces, newlines or special characters.")

/** Set the client name (empty: remove it); an error reply when it is not printable. */
const setName = (session: Session, name: Uint8Array): Reply.ErrorReply | undefined => {
  if (!printable(name)) return BAD_NAME
  session.name = name.length === 0 ? null : own(name)
  return undefined
}

const helloReply = (session: Session): Reply.Reply =>
  Reply.map([
    [Reply.bulkText("server"), Reply.bulkText("redis")],
    [Reply.bulkText("version"), Reply.bulkText(REDIS_VERSION)],
    [Reply.bulkText("proto"), Reply.integer(session.protocol)],
    [Reply.bulkText("id"), Reply.integer(session.id)],
    [Reply.bulkText("mode"), Reply.bulkText("standalone")],
    [Reply.bulkText("role"), Reply.bulkText("master")],
    [Reply.bulkText("modules"), Reply.emptyArray]
  ])

/** HELLO [protover [AUTH username password] [SETNAME clientname]] */
const hello = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const session = ctx.session
  let protocol = session.protocol
  if (args.length >= 2) {
    const version = parseInteger(args[1])
    if (version === undefined) return Reply.err("Protocol version is not an integer or out of range")
    if (version !== 2 && version !== 3) return Reply.error("NOPROTO unsupported protocol version")
    protocol = version
  }
  let user: Uint8Array | undefined
  let name: Uint8Array | undefined
  for (let i = 2; i < args.length; i++) {
    const more = args.length - 1 - i
    if (is(args[i], "auth") && more >= 2) {
      user = args[i + 1]
      i += 2
    } else if (is(args[i], "setname") && more >= 1) {
      name = args[++i]
    } else {
      return Reply.err(`Syntax error in HELLO option '${quoted(args[i], args[i].length)}'`)
    }
  }
  // no ACL here: the default user has no password, every other user is unknown
  if (user !== undefined && toKey(user) !== "default") {
    return Reply.error("WRONGPASS invalid username-password pair or user is disabled.")
  }
  if (name !== undefined) {
    const error = setName(session, name)
    if (error !== undefined) return error
  }
  session.protocol = protocol
  return helloReply(session)
}

/** The `CLIENT LIST` / `CLIENT INFO` line of a session. */
const clientLine = (session: Session, command: string): string =>
  `id=${session.id} addr=${session.addr} laddr=${session.laddr} fd=-1 ` +
  `name=${session.name === null ? "" : toKey(session.name)} age=0 idle=0 flags=N db=${session.db} ` +
  `sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 ` +
  `omem=0 tot-mem=0 events=r cmd=${command} user=default redir=-1 resp=${session.protocol} ` +
  `lib-name=${session.libName ?? ""} lib-ver=${session.libVersion ?? ""}\n`

/** A text reply: a bulk string in RESP2, a verbatim `txt` string in RESP3. */
export const text = (session: Session, value: string): Reply.Reply =>
  session.protocol === 3 ? Reply.verbatim("txt", value) : Reply.bulkText(value)

const setinfo = (args: ReadonlyArray<Uint8Array>, ctx: Context): Reply.Reply => {
  const attr = args[2]
  const value = args[3]
  const isName = is(attr, "lib-name")
  if (!isName && !is(attr, "lib-ver")) return Reply.err(`Unrecognized option '${quoted(attr, attr.length)}'`)
  if (!printable(value)) {
    return Reply.err(`${quoted(attr, attr.length)} cannot contain spaces, newlines or special characters.`)
  }
  const v = value.length === 0 ? null : toKey(value)
  if (isName) ctx.session.libName = v
  else ctx.session.libVersion = v
  return Reply.OK
}

const CONN = ["@connection", "@slow"]
const CLIENT = ["@admin", "@slow", "@dangerous", "@connection"]
const LOOSE = ["noscript", "loading", "stale"]

/** The connection commands. */
export const commands: ReadonlyArray<CommandSpec> = [
  spec("ping", -1, ["fast"], [0, 0, 0], ["@fast", "@connection"], ping),
  spec("echo", 2, ["fast"], [0, 0, 0], ["@fast", "@connection"], (args) => Reply.bulk(args[1])),
  spec("quit", -1, ["allow_busy", "noscript", "loading", "stale", "fast", "no_auth"], [0, 0, 0], CONN, quit),
  spec("select", 2, ["loading", "stale", "fast"], [0, 0, 0], ["@fast", "@connection"], select),
  spec("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth"], [0, 0, 0], ["@fast", "@connection"], hello),
  container("client", -2, CLIENT, [
    spec("client|setname", 3, LOOSE, [0, 0, 0], CLIENT, (args, ctx) => setName(ctx.session, args[2]) ?? Reply.OK),
    spec(
      "client|getname",
      2,
      LOOSE,
      [0, 0, 0],
      CONN,
      (_, ctx) => ctx.session.name === null ? Reply.nullBulk : Reply.bulk(ctx.session.name)
    ),
    spec("client|id", 2, LOOSE, [0, 0, 0], CONN, (_, ctx) => Reply.integer(ctx.session.id)),
    spec("client|setinfo", 4, LOOSE, [0, 0, 0], CONN, setinfo),
    spec(
      "client|list",
      -2,
      ["admin", ...LOOSE],
      [0, 0, 0],
      CLIENT,
      (_, ctx) => text(ctx.session, clientLine(ctx.session, "client|list"))
    ),
    spec(
      "client|info",
      2,
      LOOSE,
      [0, 0, 0],
      CONN,
      (_, ctx) => text(ctx.session, clientLine(ctx.session, "client|info"))
    )
  ], () => wrongArity("client")) // (arity -2: never reached without a subcommand)
]
