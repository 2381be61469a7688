/**
 * Whether the Redis user may run every command the gateway uses, found by running each once on a
 * probe key under the key prefix: a user's ACL is read only with `acl` rights the gateway's user
 * should not have. Without this a missing command shows only when a request first needs it (a
 * dance's callback, a take-back), as a 503 whose reason is in the access line.
 */
import type { RedisClient } from './redis-client.js'
import { DECREMENT_IF_POSITIVE_SCRIPT, INCREMENT_SCRIPT } from './redis-scripts.js'

/** The commands the store runs, as an ACL grants them (docs/store.md). */
export function commandsNeeded(acknowledged: boolean): string {
  return `get set del getdel scan ping eval incrby pexpire decr info${acknowledged ? ' wait' : ''}`
}

/** Redis's words for a command or key its ACL refuses (NOPERM; from a script, its error in 7.0). */
const REFUSED = /NOPERM|no permissions|can't run this command/i

/**
 * Each step a request may take, on `key` (absent, under the prefix): the scripts' own commands
 * (GET INCRBY PEXPIRE, GET DECR) run inside EVAL, so a refused one is named by Redis's error.
 */
function steps(key: string, pattern: string, acknowledged: boolean): [string, (r: RedisClient) => Promise<unknown>][] {
  return [
    ['eval (INCRBY, PEXPIRE)', (r) => r.eval(INCREMENT_SCRIPT, 1, key, '1', '10000')],
    ['eval (DECR)', (r) => r.eval(DECREMENT_IF_POSITIVE_SCRIPT, 1, key)],
    ['get', (r) => r.get(key)],
    ['getdel', (r) => r.getdel(key)],
    ['set', (r) => r.set(key, '1', 'PX', 10000, 'NX')],
    ['del', (r) => r.del(key)],
    ['scan', (r) => r.scan('0', 'MATCH', pattern, 'COUNT', 1)],
    ['info', (r) => r.info('memory')],
    ...(acknowledged ? [['wait', (r: RedisClient) => r.wait(0, 0)] as [string, (r: RedisClient) => Promise<unknown>]] : []),
  ]
}

/**
 * The first command the ACL of `user` refuses on `node`, in words naming it and the ACL; undefined
 * when every one runs. Other failures (Redis away) reject: the probe cannot tell then.
 */
export async function permissionProblem(node: RedisClient, o: { key: string; pattern: string; prefix: string; user: string; acknowledged: boolean }): Promise<string | undefined> {
  for (const [command, run] of steps(o.key, o.pattern, o.acknowledged)) {
    try {
      await run(node)
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e)
      if (!REFUSED.test(why)) throw e
      await node.del(o.key).catch(() => undefined)
      return `the ACL of Redis user "${o.user}" refuses ${command} (${why}): the gateway needs ${commandsNeeded(o.acknowledged)} on ~${o.prefix}* (docs/store.md); requests that need it fail with 503 store_unavailable`
    }
  }
  return undefined
}
