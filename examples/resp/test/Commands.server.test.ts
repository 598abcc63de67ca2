import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { execute, table as commandTable } from "../src/Commands.ts"
import { makeSession } from "../src/Session.ts"
import * as Store from "../src/Store.ts"
import { bytes, encode, harness, table } from "./helpers.ts"

const HELLO_BODY = (proto: number) =>
  "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n$5\r\nproto\r\n" +
  `:${proto}\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n` +
  "$7\r\nmodules\r\n*0\r\n"

describe("Connection and server commands: replies recorded from redis-server 7.0", () => {
  it("PING ECHO SELECT QUIT", () => {
    expect(table(harness(), [
      ["PING", "+PONG\r\n"],
      ["PING hi", "$2\r\nhi\r\n"],
      ["PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"],
      ["ECHO", "-ERR wrong number of arguments for 'echo' command\r\n"],
      ["ECHO a b", "-ERR wrong number of arguments for 'echo' command\r\n"],
      ["ECHO hello", "$5\r\nhello\r\n"],
      ["SELECT 0", "+OK\r\n"],
      ["SELECT x", "-ERR value is not an integer or out of range\r\n"],
      ["SELECT -1", "-ERR DB index is out of range\r\n"],
      ["SELECT 16", "-ERR DB index is out of range\r\n"],
      ["QUIT x y", "+OK\r\n"]
    ])).toEqual([])
  })

  it("unknown commands, CLIENT, HELLO, CONFIG, COMMAND errors, command name case", () => {
    expect(table(harness(), [
      [["FOO", "a\r\nb", "c"], "-ERR unknown command 'FOO', with args beginning with: 'a  b' 'c' \r\n"],
      [
        "FOO xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "-ERR unknown command 'FOO', with args beginning with: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' \r\n"
      ],
      [
        "FOO xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx abcdefghijkl z",
        "-ERR unknown command 'FOO', with args beginning with: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' 'abcdefg' \r\n"
      ],
      [
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
        "-ERR unknown command 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy', with args beginning with: \r\n"
      ],
      ["FOO", "-ERR unknown command 'FOO', with args beginning with: \r\n"],
      [["foo", ""], "-ERR unknown command 'foo', with args beginning with: '' \r\n"],
      [["", ""], "-ERR unknown command '', with args beginning with: '' \r\n"],
      [["FOO", "a\u0001b"], "-ERR unknown command 'FOO', with args beginning with: 'a\u0001b' \r\n"],
      [["FOO", "a\u0000b", "c"], "-ERR unknown command 'FOO', with args beginning with: 'a' 'c' \r\n"],
      [["F\u0000OO", "a"], "-ERR unknown command 'F', with args beginning with: 'a' \r\n"],
      [["CLIENT", "SETNAME", "a b"], "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"],
      [["CLIENT", "SETNAME", "a\nb"], "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"],
      [["CLIENT", "SETNAME", "é"], "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"],
      [
        ["HELLO", "2", "SETNAME", "a b"],
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
      ],
      [
        ["CLIENT", "SETNAME", "a\u0001b"],
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
      ],
      ["CLIENT setname ~", "+OK\r\n"],
      ["CLIENT GETNAME", "$1\r\n~\r\n"],
      [["CLIENT", "SETNAME", ""], "+OK\r\n"],
      ["CLIENT GETNAME", "$-1\r\n"],
      ["client FOO x", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"],
      ["CLIENT", "-ERR wrong number of arguments for 'client' command\r\n"],
      ["CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n"],
      ["CLIENT GETNAME x", "-ERR wrong number of arguments for 'client|getname' command\r\n"],
      ["CLIENT ID x", "-ERR wrong number of arguments for 'client|id' command\r\n"],
      ["HELLO 4", "-NOPROTO unsupported protocol version\r\n"],
      ["HELLO x", "-ERR Protocol version is not an integer or out of range\r\n"],
      ["HELLO 1", "-NOPROTO unsupported protocol version\r\n"],
      ["HELLO 2 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n"],
      ["HELLO 2 AUTH a b", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"],
      ["HELLO 2 SETNAME", "-ERR Syntax error in HELLO option 'SETNAME'\r\n"],
      ["HELLO 2 AUTH a", "-ERR Syntax error in HELLO option 'AUTH'\r\n"],
      ["CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n"],
      ["CONFIG FOO", "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"],
      ["CONFIG", "-ERR wrong number of arguments for 'config' command\r\n"],
      ["CONFIG GET nope", "*0\r\n"],
      ["CONFIG GET SAVE", "*2\r\n$4\r\nSAVE\r\n$0\r\n\r\n"],
      ["COMMAND FOO", "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"],
      ["COMMAND COUNT x", "-ERR wrong number of arguments for 'command|count' command\r\n"],
      ["COMMAND DOCS nope", "*0\r\n"],
      ["COMMAND INFO nope", "*1\r\n$-1\r\n"],
      ["SET k v", "+OK\r\n"],
      ["GET K", "$-1\r\n"],
      ["get k", "$1\r\nv\r\n"],
      ["GeT k", "$1\r\nv\r\n"],
      // names are found by a packed form of up to 6 letters: neighbours of real names stay unknown
      [["G@T", "k"], "-ERR unknown command 'G@T', with args beginning with: 'k' \r\n"],
      [["G\u0005T", "k"], "-ERR unknown command 'G\u0005T', with args beginning with: 'k' \r\n"],
      [["GE", "k"], "-ERR unknown command 'GE', with args beginning with: 'k' \r\n"],
      [["GETT", "k"], "-ERR unknown command 'GETT', with args beginning with: 'k' \r\n"],
      [["\u00c7ET", "k"], "-ERR unknown command '\u00c7ET', with args beginning with: 'k' \r\n"],
      ["fLuShAlL", "+OK\r\n"],
      ["SMEMBERS nothing", "*0\r\n"]
    ])).toEqual([])
  })
})

describe("HELLO and protocol switching", () => {
  it("switches to RESP3 and answers HELLO itself in the new protocol; HELLO 2 switches back", () => {
    const h = harness()
    expect(h.run("HELLO")).toBe(`*14\r\n${HELLO_BODY(2)}`)
    expect(h.run("HELLO 3")).toBe(`%7\r\n${HELLO_BODY(3)}`)
    expect(h.session.protocol).toBe(3)
    expect(h.run("HGET nope f")).toBe("_\r\n")
    expect(h.run("HELLO")).toBe(`%7\r\n${HELLO_BODY(3)}`)
    expect(h.run("HELLO 2")).toBe(`*14\r\n${HELLO_BODY(2)}`)
    expect(h.run("HGET nope f")).toBe("$-1\r\n")
  })

  it("sets the name with SETNAME, accepts AUTH for the default user, changes nothing on error", () => {
    const h = harness()
    expect(h.run("HELLO 3 AUTH default secret SETNAME app")).toBe(`%7\r\n${HELLO_BODY(3)}`)
    expect(h.run("CLIENT GETNAME")).toBe("$3\r\napp\r\n")
    expect(h.run("HELLO 2 SETNAME x FOO")).toBe("-ERR Syntax error in HELLO option 'FOO'\r\n")
    expect(h.run(["HELLO", "2", "SETNAME", "a b"])).toBe(
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    )
    expect(h.run("HELLO 2 AUTH bob pw")).toBe("-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    expect(h.session.protocol).toBe(3)
    expect(h.run("CLIENT GETNAME")).toBe("$3\r\napp\r\n")
  })
})

describe("Connection and server commands", () => {
  it("QUIT answers +OK and asks the server to close; SELECT knows only database 0", () => {
    const h = harness()
    expect(h.session.closeRequested).toBe(false)
    expect(table(h, [
      ["SELECT 0", "+OK\r\n"],
      ["SELECT 1", "-ERR DB index is out of range\r\n"],
      ["QUIT", "+OK\r\n"]
    ])).toEqual([])
    expect(h.session.closeRequested).toBe(true)
  })

  it("CLIENT ID, SETINFO, LIST and INFO", () => {
    const h = harness()
    expect(table(h, [
      ["CLIENT ID", ":7\r\n"],
      ["CLIENT SETINFO lib-name ioredis", "+OK\r\n"],
      ["CLIENT SETINFO LIB-VER 5.4.1", "+OK\r\n"],
      ["CLIENT SETINFO foo x", "-ERR Unrecognized option 'foo'\r\n"],
      [
        ["CLIENT", "SETINFO", "lib-name", "a b"],
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
      ],
      ["CLIENT SETNAME conn1", "+OK\r\n"]
    ])).toEqual([])
    const line = "id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=-1 name=conn1 age=0 idle=0 flags=N db=0 " +
      "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 " +
      "omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp=2 lib-name=ioredis lib-ver=5.4.1\n"
    expect(h.run("CLIENT LIST")).toBe(`$${line.length}\r\n${line}\r\n`)
    h.session.protocol = 3
    const info = line.replace("cmd=client|list", "cmd=client|info").replace("resp=2", "resp=3")
    expect(h.run("CLIENT INFO")).toBe(`=${info.length + 4}\r\ntxt:${info}\r\n`)
  })

  it("CONFIG GET: glob patterns, case-insensitive names, dedup, map in RESP3", () => {
    const h = harness()
    expect(table(h, [
      ["CONFIG GET save appendonly save", "*4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"],
      ["CONFIG GET maxmemory*", "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"],
      ["CONFIG GET DATA*", "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"],
      ["CONFIG GET nope*", "*0\r\n"]
    ])).toEqual([])
    h.session.protocol = 3
    expect(h.run("CONFIG GET appendonly")).toBe("%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n")
  })

  it("INFO: sections in Redis format; a bulk string in RESP2, verbatim text in RESP3", () => {
    const h = harness()
    h.store.stats.connectedClients = 3
    h.run("SET k v")
    const all = h.run("INFO")
    expect(all).toMatch(/^\$\d+\r\n# Server\r\nredis_version:7\.0\.0\r\n/)
    for (
      const line of [
        "redis_mode:standalone",
        "connected_clients:3",
        "loading:0",
        "role:master",
        "db0:keys=1,expires=0,avg_ttl=0"
      ]
    ) {
      expect(all).toContain(`\r\n${line}\r\n`)
    }
    expect(all).toContain("\r\n\r\n# Clients\r\n")
    expect(h.run("INFO server clients")).not.toContain("# Keyspace")
    expect(h.run("INFO CLIENTS")).toBe("$51\r\n# Clients\r\nconnected_clients:3\r\nblocked_clients:0\r\n\r\n")
    expect(h.run("INFO nosuchsection")).toBe("$0\r\n\r\n")
    expect(h.run("INFO stats")).toContain("total_commands_processed:5\r\n") // SET + 4 INFO before this one
    h.session.protocol = 3
    expect(h.run("INFO clients")).toBe("=55\r\ntxt:# Clients\r\nconnected_clients:3\r\nblocked_clients:0\r\n\r\n")
  })

  it("COMMAND, COMMAND COUNT/INFO/DOCS/LIST describe the table", () => {
    const h = harness()
    const count = commandTable.size
    expect(h.run("COMMAND COUNT")).toBe(`:${count}\r\n`)
    expect(h.run("COMMAND").startsWith(`*${count}\r\n*10\r\n`)).toBe(true)
    expect(h.run("COMMAND INFO get nope")).toBe(
      "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n" +
        "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n$-1\r\n"
    )
    expect(h.run("COMMAND INFO client")).toContain("$14\r\nclient|setname\r\n:3\r\n")
    expect(h.run("COMMAND DOCS")).toBe("*0\r\n")
    expect(h.run("COMMAND LIST")).toContain("$7\r\nhgetall\r\n")
    for (
      const name of ["ping", "get", "set", "incr", "lpush", "rpop", "hset", "sadd", "mset", "client", "config", "hello"]
    ) {
      expect(commandTable.has(name)).toBe(true)
    }
    h.session.protocol = 3
    expect(h.run("COMMAND DOCS get")).toBe("%0\r\n")
    expect(h.run("COMMAND INFO ping")).toBe(
      "*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n"
    )
  })

  it("counts executed commands only (not unknown or wrong-arity ones)", () => {
    const h = harness()
    h.run("PING")
    h.run("FOO")
    h.run("GET")
    h.run("CLIENT NOPE")
    expect(h.store.stats.commandsProcessed).toBe(1)
  })

  it("answers an empty command with an error", () => {
    const h = harness()
    expect(encode(execute(h.store, [], h.session))).toBe("-ERR empty command\r\n")
  })

  it("never throws, whatever the arguments", () => {
    const names = [...commandTable.keys()]
    const store = Store.make({ clock: () => 1_700_000_000_000 })
    const arg = fc.oneof(
      fc.uint8Array({ maxLength: 8 }),
      fc.constantFrom(
        "k",
        "0",
        "-1",
        "1",
        "9223372036854775808",
        "EX",
        "PX",
        "NX",
        "XX",
        "GET",
        "KEEPTTL",
        "GT",
        "*",
        "3",
        "setname",
        "count",
        "info",
        "get"
      )
        .map(bytes)
    )
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(arg, { maxLength: 6 }), fc.boolean(), (name, rest, upper) => {
        const session = makeSession({ id: 1 })
        const reply = execute(store, [bytes(upper ? name.toUpperCase() : name), ...rest], session)
        expect(typeof encode(reply, session.protocol)).toBe("string")
      }),
      { numRuns: 3000 }
    )
  })
})
