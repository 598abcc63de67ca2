/** The backplane suite over a real redis-server, on Bun: @wirekit/redis (ioredis) on Bun's node:net. */
import { run } from "../../redis/test/redisSuite.ts"

run("bun")
