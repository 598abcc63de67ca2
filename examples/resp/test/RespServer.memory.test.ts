import { Address, Connection, MemoryTransport, Server, Transport } from "@wirekit/core"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { handleConnection } from "../src/RespServer.ts"
import * as Store from "../src/Store.ts"
import { concat, multibulk, str } from "./helpers.ts"

describe("RespServer over the memory transport (lent chunks are poisoned after each read)", () => {
  it.scopedLive("commands split across reads at every point get exact replies", () =>
    Effect.gen(function*() {
      const t = yield* Transport.Transport
      const store = Store.make()
      const server = yield* Server.listen(Address.tcp("127.0.0.1", 0), handleConnection(store))
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
})
