/**
 * Tests that drive a program npm does not install (Debian's redis-cli, redis-benchmark)
 * skip themselves, with the reason, where the program is missing; on CI
 * (`CI=true`, which `.ci/run` sets up with the program installed) they always run,
 * so a missing program fails them there instead of hiding them.
 */
import { accessSync, constants } from "node:fs"
import { delimiter, join } from "node:path"

/** Whether tests that need a program run here. */
export interface ExternalProgram {
  /** The command, e.g. "redis-cli". */
  readonly name: string
  /** Found on PATH. */
  readonly available: boolean
  /** Skip the tests that need it: missing, and not on CI. */
  readonly skip: boolean
  /** Why they are skipped (empty when they run). */
  readonly reason: string
  /** `title`, with the reason appended when the tests are skipped. */
  readonly title: (title: string) => string
}

/** True when an executable `name` is in one of the directories of `path` (a PATH value). */
export const onPath = (name: string, path: string = process.env.PATH ?? ""): boolean =>
  path.split(delimiter).some((dir) => {
    if (dir === "") return false
    try {
      accessSync(join(dir, name), constants.X_OK)
      return true
    } catch {
      return false
    }
  })

/**
 * Looks `name` up on PATH. `debianPackage` names the package that provides it,
 * for the reason: "... install it with: apt-get install <package>".
 */
export const externalProgram = (
  name: string,
  debianPackage: string,
  env: NodeJS.ProcessEnv = process.env
): ExternalProgram => {
  const available = onPath(name, env.PATH ?? "")
  const skip = !available && env.CI !== "true"
  const reason = skip
    ? `${name} not found on PATH: install Debian's ${debianPackage} (apt-get install ${debianPackage}) to run these tests (with CI=true they run and fail)`
    : ""
  return { name, available, skip, reason, title: (title) => (skip ? `${title} [skipped: ${reason}]` : title) }
}
