/** The backplane suite over a real redis-server, on Node (see ./redisSuite.ts). */
import { run } from "./redisSuite.ts"

run("node")
