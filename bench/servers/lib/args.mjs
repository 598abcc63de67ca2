// Flags of the raw bench servers, the same on Node, Bun and Deno: `--port N --host H --mode echo|sink`.
// An unknown flag is printed and exits with status 2 through `exit` (each runtime passes its own).
export function parseServerArgs(argv, exit) {
  const opts = { port: 0, host: "127.0.0.1", mode: "echo" }
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]]
    if (key === "--port") opts.port = Number(value)
    else if (key === "--host") opts.host = value
    else if (key === "--mode") opts.mode = value
    else {
      console.error(`unknown option ${key}`)
      exit(2)
    }
  }
  return opts
}
