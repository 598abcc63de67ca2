/**
 * The PRI part of a syslog message: `<PRIVAL>`, where PRIVAL = facility × 8 +
 * severity, 0 to 191 (RFC 5424 section 6.2.1, the same in RFC 3164).
 *
 * ```
 *   <13>   → facility 1 (user),    severity 5 (notice)
 *   <165>  → facility 20 (local4), severity 5 (notice)
 * ```
 */
import { Schema } from "effect"

/** Facility names by code (RFC 5424 table 1; the names `logger -p` takes). */
export const facilities = [
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "ntp",
  "security",
  "console",
  "solaris-cron",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7"
] as const

/** Severity names by code, 0 (most severe) to 7 (RFC 5424 table 2). */
export const severities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const

/** A facility by name. */
export const Facility = Schema.Literal(...facilities)
/** A facility by name. */
export type Facility = typeof Facility.Type

/** A severity by name. */
export const Severity = Schema.Literal(...severities)
/** A severity by name. */
export type Severity = typeof Severity.Type

/** PRIVAL: an integer from 0 to 191. */
export const Priority = Schema.Int.pipe(Schema.between(0, 191, { message: () => "PRIVAL must be from 0 to 191" }))

/** Facility and severity, as a message carries them. */
export const FacilitySeverity = Schema.Struct({ facility: Facility, severity: Severity })
/** Facility and severity, as a message carries them. */
export type FacilitySeverity = typeof FacilitySeverity.Type

/** Facility and severity of a PRIVAL (`undefined` ones outside 0..191: validate with {@link Priority}). */
export const split = (
  pri: number
): { readonly facility: Facility | undefined; readonly severity: Severity | undefined } =>
  Number.isInteger(pri) && pri >= 0 && pri <= 191
    ? { facility: facilities[pri >> 3], severity: severities[pri & 7] }
    : { facility: undefined, severity: undefined }

/** PRIVAL ⇄ facility and severity (decoding checks the range; encoding computes facility × 8 + severity). */
export const FacilitySeverityFromPriority = Schema.transform(Priority, FacilitySeverity, {
  strict: true,
  decode: (pri) => split(pri) as FacilitySeverity,
  encode: ({ facility, severity }) => facilities.indexOf(facility) * 8 + severities.indexOf(severity)
})
