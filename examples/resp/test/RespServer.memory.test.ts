import { describe, expect, it } from "@effect/vitest"
import { Address, Connection, MemoryTransport, Transport } from "@wirekit/core"
import { Effect } from "effect"
import * as Resp from "../src/Resp.ts"
import * as RespServer from "../src/RespServer.ts"
import * as Store from "../src/Store.ts"
import { bytes, concat, multibulk, str } from "./helpers.ts"

describe("RespServer over the memory transport (lent chunks are poisoned after each read)", () => {
  it.scopedLive("commands split across reads at every point get exact replies", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const store = Store.make()
      const server = yield* RespServer.serve(store, { address: Address.tcp("127.0.0.1", 0) })
      const wire = concat(
        multibulk("SET", "key", "hello world"),
        multibulk("RPUSH", "list", "a", "bb"),
        multibulk("ECHO", "x\r\ny"),
        multibulk("GET", "key"),
        multibulk("LRANGE", "list", "0", "-1")
      )
      const expected = "+OK\r\n:2\r\n$4\r\nx\r\ny\r\n$11\r\nhello world\r\n*2\r\n$1\r\na\r\n$2\r\nbb\r\n"
      for (let cut = 1; cut < wire.length; cut += 3) {
        yield* Effect.sync(() => store.flush())
        const c = yield* t.connect(server.address)
        yield* c.write(wire.slice(0, cut))
        yield* Effect.sleep("1 millis") // a separate read on the server
        yield* c.write(wire.slice(cut))
        yield* c.end
        expect(str(yield* Connection.readAll(c))).toBe(expected)
        yield* c.close
      }
    }).pipe(Effect.provide(MemoryTransport.layer())))

  it.scopedLive("a command over maxCommandBytes gets a protocol error and a close of that connection only", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const store = Store.make()
      // MSET (4 bytes) and 98 one-byte arguments fit, not 99 (the limit trips at the 100th header)
      const limits = { maxCommandBytes: 100 * (1 + Resp.ARGUMENT_OVERHEAD) }
      const server = yield* RespServer.serve(store, { address: Address.tcp("127.0.0.1", 0), limits })
      const other = yield* t.connect(server.address)
      yield* other.write(multibulk("SET", "survivor", "intact"))
      expect(yield* other.read).toEqual(bytes("+OK\r\n"))
      const args = (n: number) => concat(bytes(`*${n + 1}\r\n$4\r\nMSET\r\n`), bytes("$1\r\nx\r\n".repeat(n)))
      // just under: MSET and 98 one-byte arguments cost 99 × 256 + 4 + 98 = 25,446
      const under = yield* t.connect(server.address)
      yield* under.write(concat(args(98), multibulk("PING")))
      yield* Effect.sleep("1 millis")
      yield* under.end
      expect(str(yield* Connection.readAll(under))).toBe("+OK\r\n+PONG\r\n")
      yield* under.close
      // over, sent in pieces: the commands before it are answered, then the error, then the close
      const over = yield* t.connect(server.address)
      const wire = concat(multibulk("PING"), args(200), multibulk("PING"))
      for (let at = 0; at < wire.length; at += 97) {
        // once the server has closed, writes fail (the peer is gone): stop there
        const written = yield* Effect.either(over.write(wire.slice(at, at + 97)))
        if (written._tag === "Left") break
        yield* Effect.sleep("1 millis")
      }
      expect(str(yield* Connection.readAll(over))).toBe("+PONG\r\n-ERR Protocol error: too big multibulk request\r\n")
      yield* over.close
      // the other connection never noticed
      yield* other.write(multibulk("GET", "survivor"))
      expect(yield* other.read).toEqual(bytes("$6\r\nintact\r\n"))
      yield* other.close
    }).pipe(Effect.provide(MemoryTransport.layer())))

  it.scopedLive("a client that ends inside a command gets the replies before it and no protocol error, as from Redis", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const server = yield* RespServer.serve(Store.make(), { address: Address.tcp("127.0.0.1", 0) })
      const c = yield* t.connect(server.address)
      yield* c.write(concat(multibulk("PING"), bytes("*2\r\n$4\r\nECHO\r\n")))
      yield* c.end
      expect(str(yield* Connection.readAll(c))).toBe("+PONG\r\n")
    }).pipe(Effect.provide(MemoryTransport.layer())))
})
