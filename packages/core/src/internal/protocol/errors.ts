/**
 * The protocol error classes, defined here (not in the public modules) so
 * that the internal protocol modules can build them without importing a
 * public module that imports them back. `Protocol.ts`, `ProtocolServer.ts`
 * and `Client.ts` re-export each one with its documentation.
 */
import { Data } from "effect"
import type { Address } from "../../Address.ts"
import { format } from "../../Address.ts"
import type { ClientErrorReason, ClientTimeoutPhase } from "../../Client.ts"
import type { ProtocolErrorReason } from "../../Protocol.ts"
import type { ProtocolServerErrorReason } from "../../ProtocolServer.ts"

/** See `Protocol.protocolErrorReasons`. */
export const protocolErrorReasons: ReadonlyArray<ProtocolErrorReason> = [
  "BadRequest",
  "Internal",
  "Timeout",
  "Overloaded",
  "RateLimited",
  "ShuttingDown",
  "Unauthorized"
]

/** See `Protocol.ProtocolError`. */
export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: ProtocolErrorReason
  /** Facts for humans (never internals of a defect). */
  readonly detail?: string | undefined
}> {
  override get message(): string {
    return this.detail === undefined ? this.reason : `${this.reason}: ${this.detail}`
  }
}

/** See `Protocol.isRefusal`. */
export const isRefusal = (reason: ProtocolErrorReason): boolean =>
  reason === "Overloaded" || reason === "RateLimited" || reason === "ShuttingDown"

/** See `ProtocolServer.ProtocolServerError`. */
export class ProtocolServerError extends Data.TaggedError("ProtocolServerError")<{
  readonly reason: ProtocolServerErrorReason
  readonly connection?: number | undefined
  readonly peer?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const who = this.connection === undefined
      ? ""
      : ` (connection ${this.connection}${this.peer ? `, peer ${this.peer}` : ""})`
    return `connection closed: ${this.reason}${who}`
  }
}

/** See `Client.ClientError`. */
export class ClientError extends Data.TaggedError("ClientError")<{
  readonly reason: ClientErrorReason
  readonly address?: Address | undefined
  /** The server's fault, for `Refused` and `Remote`. */
  readonly fault?: ProtocolError | undefined
  /** The timeout in ms, for `Timeout` and `PoolTimeout`. */
  readonly timeout?: number | undefined
  /** For `Timeout`: what the request was doing when its deadline passed. */
  readonly phase?: ClientTimeoutPhase | undefined
  /** Attempts made, when the request was sent more than once. */
  readonly attempts?: number | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const at = this.address ? ` (${format(this.address)})` : ""
    const extra = this.fault
      ? `: ${this.fault.message}`
      : this.timeout !== undefined
      ? ` after ${this.timeout}ms`
      : this.cause instanceof Error
      ? `: ${this.cause.message}`
      : ""
    const phase = this.phase === undefined ? "" : ` ${phases[this.phase]}`
    const attempts = this.attempts === undefined ? "" : ` (${this.attempts} attempts)`
    return `${this.reason}${extra}${phase}${attempts}${at}`
  }
}

const phases: Record<ClientTimeoutPhase, string> = {
  Acquire: "waiting for a connection",
  Send: "waiting to send",
  Response: "waiting for the response"
}
