/**
 * The command-line flags every example shares, as `@effect/cli` options,
 * read the same way on Node, Bun and Deno (files through `node:fs`, which
 * all three have):
 *
 * - `--host HOST`, `--port PORT` (0 to 65535; 0: any free port);
 * - `--workers N`: N processes of the example serve its one port
 *   (`NodeWorkers`, `BunWorkers`, `DenoWorkers`); 1, the default, runs it in
 *   this process;
 * - servers: `--tls-cert PATH --tls-key PATH` serve TLS on the usual port;
 *   `--tls-ca PATH` adds mutual TLS (clients must present a certificate that
 *   chains to that CA, else their handshake is refused);
 * - servers: `--proxy-protocol CIDR[,CIDR]`: the server sits behind TCP load
 *   balancers (HAProxy `send-proxy` / `send-proxy-v2`, nginx `stream` with
 *   `proxy_protocol on`) at these addresses or blocks and reads the PROXY
 *   protocol header they send first, so a connection's remote address is the
 *   real client's. Peers outside the list are refused;
 * - clients (the kv and bank CLIs, the chat client): `--tls` connects with
 *   TLS, trusting the system's CAs or `--tls-ca PATH`; `--tls-cert PATH
 *   --tls-key PATH` present a client certificate. Any `--tls-*` flag implies
 *   `--tls`: a CA or certificate given is never silently dropped.
 *
 * Every value is checked before anything listens or connects: a bad number,
 * a flag without its partner, or a file that cannot be read or holds no PEM
 * block of the expected kind fails with a `ValidationError` that says which
 * flag and why (`ExampleCli.run` prints it and exits with status 2).
 *
 * @since 0.1.0
 */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { ProxyProtocol } from "@wirekit/core"
import type { Tls } from "@wirekit/core"
import { Effect, Option } from "effect"
import { readFileSync } from "node:fs"

/**
 * A refused value, as `@effect/cli` reports it: one paragraph.
 *
 * @since 0.1.0
 * @category errors
 */
export const invalid = (message: string): ValidationError.ValidationError =>
  ValidationError.invalidValue(HelpDoc.p(message))

/**
 * An integer flag from `min` to `max`, refused with `--NAME must be an
 * integer from MIN to MAX (got TEXT)` otherwise (`@effect/cli`'s own integer
 * would accept fractions and say neither which flag nor the range).
 *
 * @since 0.1.0
 * @category options
 */
export const integer = (
  name: string,
  range: { readonly min: number; readonly max: number; readonly pseudoName?: string | undefined }
): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName(range.pseudoName ?? "N"),
    Options.mapEffect((text) => {
      const n = Number(text)
      return /^-?\d+$/.test(text) && n >= range.min && n <= range.max
        ? Effect.succeed(n)
        : Effect.fail(invalid(`--${name} must be an integer from ${range.min} to ${range.max} (got ${text})`))
    })
  )

/**
 * A flag that takes one of `values`, refused with `--NAME must be A, B or C
 * (got TEXT)` otherwise.
 *
 * @since 0.1.0
 * @category options
 */
export const choice = <const A extends string>(name: string, values: ReadonlyArray<A>): Options.Options<A> =>
  Options.text(name).pipe(
    Options.withPseudoName(values.join("|")),
    Options.mapEffect((text) =>
      (values as ReadonlyArray<string>).includes(text)
        ? Effect.succeed(text as A)
        : Effect.fail(
          invalid(`--${name} must be ${values.slice(0, -1).join(", ")} or ${values[values.length - 1]} (got ${text})`)
        )
    )
  )

/**
 * `--host HOST`, default 127.0.0.1.
 *
 * @since 0.1.0
 * @category options
 */
export const host: Options.Options<string> = Options.text("host").pipe(
  Options.withPseudoName("HOST"),
  Options.withDescription("The address to listen on (servers) or connect to (clients); default 127.0.0.1."),
  Options.withDefault("127.0.0.1")
)

/**
 * `--port PORT` (0 to 65535; a server given 0 listens on any free port).
 *
 * @since 0.1.0
 * @category options
 */
export const port = (defaultPort: number, min = 0): Options.Options<number> =>
  integer("port", { min, max: 65535, pseudoName: "PORT" }).pipe(
    Options.withDescription(`The TCP port; default ${defaultPort}${min === 0 ? " (0: any free port)" : ""}.`),
    Options.withDefault(defaultPort)
  )

/**
 * The most workers an example accepts (the supervisor's own bound is 1024).
 *
 * @since 0.1.0
 * @category options
 */
export const maxWorkers = 256

/**
 * `--workers N`, 1 to {@link maxWorkers}, default 1.
 *
 * @since 0.1.0
 * @category options
 */
export const workers: Options.Options<number> = integer("workers", { min: 1, max: maxWorkers }).pipe(
  Options.withDescription("Processes serving the port, each with its own state; default 1."),
  Options.withDefault(1)
)

const path = (name: string, description: string): Options.Options<string | undefined> =>
  Options.text(name).pipe(
    Options.withPseudoName("PATH"),
    Options.withDescription(description),
    Options.optional,
    Options.map(Option.getOrUndefined)
  )

/** Reads the PEM file given to `--name`; it must hold a `CERTIFICATE` block, or a `... PRIVATE KEY` one. */
const readPem = (
  name: string,
  file: string,
  kind: "CERTIFICATE" | "PRIVATE KEY"
): Effect.Effect<string, ValidationError.ValidationError> =>
  Effect.try({
    try: () => readFileSync(file, "utf8"),
    catch: (error) =>
      invalid(`--${name}: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }).pipe(
    Effect.filterOrFail(
      (text) =>
        Array.from(text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g), (m) => m[1]!).some((label) =>
          kind === "CERTIFICATE" ? label === kind : label.endsWith(kind)
        ),
      () => invalid(`--${name}: ${file} holds no ${kind} PEM block`)
    )
  )

interface TlsPaths {
  readonly cert: string | undefined
  readonly key: string | undefined
  readonly ca: string | undefined
}

/** Reads `--tls-cert` and `--tls-key`, which come together or not at all. */
const keyPair = (paths: TlsPaths): Effect.Effect<Tls.KeyPair | undefined, ValidationError.ValidationError> => {
  if (paths.cert === undefined && paths.key === undefined) return Effect.succeed(undefined)
  if (paths.cert === undefined) return Effect.fail(invalid("--tls-key needs --tls-cert (the certificate of that key)"))
  if (paths.key === undefined) {
    return Effect.fail(invalid("--tls-cert needs --tls-key (the private key of that certificate)"))
  }
  const { cert, key } = paths
  return Effect.all({ cert: readPem("tls-cert", cert, "CERTIFICATE"), key: readPem("tls-key", key, "PRIVATE KEY") })
}

const serverTlsPaths: Options.Options<TlsPaths> = Options.all({
  cert: path("tls-cert", "Serve TLS with this certificate (PEM; with --tls-key)."),
  key: path("tls-key", "The private key of --tls-cert (PEM)."),
  ca: path("tls-ca", "Require client certificates that chain to this CA (mutual TLS).")
})

/**
 * The TLS options of a listener from `--tls-cert`, `--tls-key` and
 * `--tls-ca`, or `undefined` (plain TCP) when none is given.
 */
const serverTls = (paths: TlsPaths): Effect.Effect<Tls.TlsServerOptions | undefined, ValidationError.ValidationError> =>
  Effect.flatMap(
    keyPair(paths),
    (pair): Effect.Effect<Tls.TlsServerOptions | undefined, ValidationError.ValidationError> => {
      if (pair === undefined) {
        return paths.ca === undefined
          ? Effect.succeed(undefined)
          : Effect.fail(invalid("--tls-ca needs --tls-cert and --tls-key (the server's own certificate)"))
      }
      if (paths.ca === undefined) return Effect.succeed({ certificates: pair })
      return Effect.map(
        readPem("tls-ca", paths.ca, "CERTIFICATE"),
        (ca): Tls.TlsServerOptions => ({ certificates: { ...pair, ca }, requestCert: true })
      )
    }
  )

/**
 * `--proxy-protocol CIDR[,CIDR]`, checked (each entry an address or a block).
 */
const proxyProtocolList: Options.Options<ProxyProtocol.Options | undefined> = Options.text("proxy-protocol").pipe(
  Options.withPseudoName("CIDR[,CIDR]"),
  Options.withDescription(
    "Serve behind TCP load balancers at these addresses or blocks, reading their PROXY protocol headers."
  ),
  Options.optional,
  Options.mapEffect(Option.match({
    onNone: () => Effect.succeed(undefined),
    onSome: (text) => {
      const trusted = text.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "")
      const options: ProxyProtocol.Options = { trusted }
      const error = ProxyProtocol.validate(options)
      return error === undefined
        ? Effect.succeed(options)
        : Effect.fail(invalid(`--proxy-protocol: ${error.detail} (got ${text})`))
    }
  }))
)

/**
 * What every example server takes from its flags.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerFlags {
  readonly host: string
  readonly port: number
  /** Processes serving the port (1: this one). */
  readonly workers: number
  /** Serve TLS with these options (plain TCP when absent). */
  readonly tls: Tls.TlsServerOptions | undefined
  /** Read PROXY protocol headers from these load balancers; absent: clients connect directly. */
  readonly proxyProtocol: ProxyProtocol.Options | undefined
}

/**
 * The flags every example server shares: `--host`, `--port` (default
 * `defaultPort`), `--workers`, `--tls-cert`/`--tls-key`/`--tls-ca` and
 * `--proxy-protocol`. `--proxy-protocol` with `--tls-cert` is refused before
 * any certificate is read: the proxy's header comes before the TLS
 * handshake, which the listener does not support yet.
 *
 * @since 0.1.0
 * @category options
 */
export const server = (defaultPort: number): Options.Options<ServerFlags> =>
  Options.all({
    host,
    port: port(defaultPort),
    workers,
    tls: serverTlsPaths,
    proxyProtocol: proxyProtocolList
  }).pipe(Options.mapEffect((flags) =>
    flags.proxyProtocol !== undefined && flags.tls.cert !== undefined
      ? Effect.fail(
        invalid(
          "--proxy-protocol cannot be used with --tls-cert: the proxy's header comes before the TLS handshake, which is not supported yet (terminate TLS at the proxy)"
        )
      )
      : Effect.map(serverTls(flags.tls), (tls): ServerFlags => ({ ...flags, tls }))
  ))

/**
 * A client's TLS flags: `--tls`, `--tls-ca PATH`, `--tls-cert PATH
 * --tls-key PATH`; the TLS options of a connect, or `undefined` (plain TCP)
 * when none is given.
 *
 * @since 0.1.0
 * @category options
 */
export const clientTls: Options.Options<Tls.TlsClientOptions | undefined> = Options.all({
  tls: Options.boolean("tls").pipe(
    Options.withDescription("Connect with TLS (implied by any --tls-* flag).")
  ),
  ca: path("tls-ca", "Trust this CA (PEM) instead of the system's."),
  cert: path("tls-cert", "Present this client certificate (PEM; with --tls-key)."),
  key: path("tls-key", "The private key of --tls-cert (PEM).")
}).pipe(Options.mapEffect((paths) =>
  Effect.gen(function*() {
    const pair = yield* keyPair(paths)
    if (!paths.tls && pair === undefined && paths.ca === undefined) return undefined
    const ca = paths.ca === undefined ? undefined : yield* readPem("tls-ca", paths.ca, "CERTIFICATE")
    return { ...(ca === undefined ? {} : { ca }), ...(pair === undefined ? {} : { certificate: pair }) }
  })
))

/**
 * What a client adds to "the connection was lost" when it used TLS without a
 * certificate: a server that requires client certificates refuses it after
 * the handshake (TLS 1.3), which looks like a lost connection.
 *
 * @since 0.1.0
 * @category utils
 */
export const lostConnectionHint = (tls: Tls.TlsClientOptions | undefined): string =>
  tls !== undefined && tls.certificate === undefined
    ? " (a server that requires client certificates does this: --tls-cert PATH --tls-key PATH)"
    : ""

/**
 * How a server is set up beyond what its listening line says (address, TLS),
 * for its start-up line: `""`, or e.g. `" (2 workers; PROXY protocol from 10.0.0.0/8)"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const describe = (flags: ServerFlags): string => {
  const parts = [
    ...(flags.workers > 1 ? [`${flags.workers} workers`] : []),
    ...(flags.proxyProtocol === undefined ? [] : [`PROXY protocol from ${flags.proxyProtocol.trusted.join(", ")}`])
  ]
  return parts.length === 0 ? "" : ` (${parts.join("; ")})`
}
