import { describe, expect, it } from "@effect/vitest"
import * as Counters from "../src/store/Counters.ts"

describe("Counters", () => {
  it("counts messages per host and transport, malformed input per reason, framing errors", () => {
    const c = Counters.make()
    c.message("vm", "udp")
    c.message("vm", "tcp")
    c.message("db1", "tcp")
    c.malformed("BadPriority")
    c.malformed("BadPriority")
    c.malformed("TruncatedHeader")
    c.framingError()
    const s = c.snapshot()
    expect(s).toEqual({
      messages: 3,
      byTransport: { udp: 1, tcp: 2 },
      hosts: [["vm", 2], ["db1", 1]],
      otherHosts: 0,
      malformed: 3,
      malformedByReason: { BadPriority: 2, TruncatedHeader: 1 },
      framingErrors: 1
    })
    expect(Counters.summary(s)).toBe(
      "3 messages (udp 1, tcp 2) from 2 hosts: vm 2, db1 1; 3 malformed (BadPriority 2, TruncatedHeader 1); 1 connection closed on framing errors"
    )
  })

  it("tracks at most maxHosts hosts by name: the others are counted together, the table never grows", () => {
    const c = Counters.make({ maxHosts: 3 })
    for (let i = 0; i < 10_000; i++) c.message(`host-${i}`, "udp")
    c.message("host-1", "udp")
    const s = c.snapshot()
    expect(s.hosts).toEqual([["host-1", 2], ["host-0", 1], ["host-2", 1]])
    expect(s.otherHosts).toBe(9_997)
    expect(s.messages).toBe(10_001)
    expect(Counters.summary(s)).toMatch(/from 3 hosts: host-1 2, host-0 1, host-2 1, untracked hosts 9997;/)
  })

  it("a summary lists at most 20 hosts and sums the rest; snapshots are copies", () => {
    const c = Counters.make()
    for (let i = 0; i < 25; i++) c.message(`h${String(i).padStart(2, "0")}`, "tcp")
    const s = c.snapshot()
    expect(Counters.summary(s)).toMatch(/from 25 hosts: h00 1, .*h19 1, 5 more hosts 5; 0 malformed; 0 connections/)
    c.message("h00", "tcp")
    expect(s.hosts[0]).toEqual(["h00", 1])
    expect(() => Counters.make({ maxHosts: -1 })).toThrow(RangeError)
  })
})
