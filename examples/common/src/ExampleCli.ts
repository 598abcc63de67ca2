/**
 * Runs an example's `@effect/cli` command as the program, the same way on
 * every runtime (the entry point passes its runtime's platform context and
 * `runMain`), with these exit statuses:
 *
 * - 0: done, `--help`, `--version`, or stopped by SIGINT/SIGTERM (Ctrl-C;
 *   a client may ask for 130 instead);
 * - 2: the command line is refused (an unknown flag, a bad value, a missing
 *   argument): one paragraph on stderr, `NAME: what is wrong`, the usage and
 *   where to find more, with no stack trace;
 * - what the program asked for with {@link exit} (the clients' statuses);
 * - 1: the program failed (reported with its cause, e.g. a port in use).
 *
 * @since 0.1.0
 */
import { CliConfig, Command, HelpDoc, Usage, ValidationError } from "@effect/cli"
import type { CliApp } from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"
import type { RunMain } from "@effect/platform/Runtime"
import { Cause, Console, Data, Effect, Exit, Layer } from "effect"
import * as ExampleFlags from "./ExampleFlags.ts"

/**
 * What an entry point knows about its runtime: the services `@effect/cli`
 * needs (`NodeContext.layer`, `BunContext.layer`) and the runtime's
 * `runMain` (`NodeRuntime.runMain`, `BunRuntime.runMain`, `DenoRuntime.runMain`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Platform {
  readonly context: Layer.Layer<CliApp.CliApp.Environment>
  readonly runMain: RunMain
}

/**
 * Ends the program with an exit status other than 0 (a client's "no such
 * key", "no answer"...), after its scopes close. What went wrong is printed
 * by the program before.
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitStatus extends Data.TaggedError("ExitStatus")<{ readonly code: number }> {}

/**
 * Fails with {@link ExitStatus}: {@link run} exits with `code`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exit = (code: number): Effect.Effect<never, ExitStatus> => Effect.fail(new ExitStatus({ code }))

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  /** The program's name: first in its messages, and in `--help`. */
  readonly name: string
  /** Printed by `--version` (default 0.1.0). */
  readonly version?: string | undefined
  /** The usage printed after a refused command line (default: the command's, as `--help` shows it). */
  readonly usage?: string | undefined
  /** The exit status after SIGINT/SIGTERM: 0 (the default) for a server stopped on purpose, 130 for a client cut short. */
  readonly interrupted?: number | undefined
}

/** The plain text of a help span (no colours: the usage goes to stderr next to a plain message). */
const spanText = (span: Span): string => {
  switch (span._tag) {
    case "Text":
    case "URI":
      return span.value
    case "Strong":
    case "Weak":
    case "Highlight":
      return spanText(span.value)
    case "Sequence":
      return spanText(span.left) + spanText(span.right)
  }
}

/** The message of a refused command line, as one line (`@effect/cli` renders it as a help document). */
const messageOf = (error: ValidationError.ValidationError): string =>
  HelpDoc.toAnsiText(error.error).replace(/\u001b\[[0-9;]*m/g, "").trim().replace(/\s*\n\s*/g, " ")

/** `@effect/cli`'s settings for the examples: no built-in flags in the help (no completions, no wizard). */
const config = CliConfig.layer({ showBuiltIns: false })

/**
 * Runs `command` with this process's arguments as the program; see the
 * module docs for the exit statuses.
 *
 * ```ts
 * ExampleCli.run(command, { context: NodeContext.layer, runMain: NodeRuntime.runMain }, { name: "echo" })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <Name extends string, E, A>(
  command: Command.Command<Name, never, E, A>,
  platform: Platform,
  options: RunOptions
): void => {
  const usage = options.usage ??
    Usage.enumerate(Command.getUsage(command), CliConfig.defaultConfig).map(spanText).join("\n")
  const program = Effect.flatMap(Effect.console, (console) => {
    const cli = Command.run(
      // the program's own output goes to the console it was given
      Command.transformHandler(command, (effect) => Effect.withConsole(effect, console)),
      { name: options.name, version: options.version ?? "0.1.0" }
    )
    // @effect/cli prints a refused command line itself, as a help document: it is printed below instead, with the usage
    const quiet: Console.Console = { ...console, error: () => Effect.void }
    return Effect.withConsole(cli(process.argv), quiet)
  }).pipe(
    Effect.as(0),
    Effect.catchAll((error): Effect.Effect<number, unknown> => {
      if (error instanceof ExitStatus) return Effect.succeed(error.code)
      if (!ValidationError.isValidationError(error)) return Effect.fail(error)
      return Effect.as(
        Console.error(
          `${options.name}: ${messageOf(error)}\nusage: ${usage}\n(${options.name} --help describes every flag)`
        ),
        2
      )
    }),
    Effect.provide(Layer.merge(platform.context, config))
  )
  platform.runMain(program, {
    // the program's value is the exit status (a teardown is typed for any program)
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? (typeof exit.value === "number" ? exit.value : 0)
          : Cause.isInterruptedOnly(exit.cause)
          ? options.interrupted ?? 0
          : 1
      )
  })
}

/**
 * True in a worker process started by `--workers N` (its supervisor logs
 * for the whole server).
 */
const isWorker = (): boolean => globalThis.process?.env?.WIREKIT_WORKER_ID !== undefined

/**
 * Serves `effect` (the example's server, e.g. `Layer.launch(layer)` under
 * `Workers.run`) until it is interrupted (SIGINT, SIGTERM), then logs
 * `NAME: shut down` once everything is closed. With workers or the PROXY
 * protocol, the supervising process first logs how it serves
 * (`NAME: starting on HOST:PORT (2 workers; ...)`); the listening line comes
 * from the server itself, with the bound port.
 *
 * @since 0.1.0
 * @category running
 */
export const serve = <E, R>(
  name: string,
  flags: ExampleFlags.ServerFlags,
  effect: Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> => {
  if (isWorker()) return effect
  const setup = ExampleFlags.describe(flags)
  return Effect.zipRight(
    setup === "" ? Effect.void : Effect.logInfo(`${name}: starting on ${flags.host}:${flags.port}${setup}`),
    effect
  ).pipe(Effect.onInterrupt(() => Effect.logInfo(`${name}: shut down`)))
}
