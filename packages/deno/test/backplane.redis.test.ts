/** The backplane suite over a real redis-server, on Deno: @wirekit/redis (ioredis, an npm package) on Deno's node:net. */
import { run } from "../../redis/test/redisSuite.ts"

run("deno")
