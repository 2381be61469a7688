/**
 * Whether the Redis user may run every command the gateway uses, without running them: each is
 * queued in a MULTI that is then discarded, and Redis checks the user's ACL (commands and keys)
 * as it queues, so nothing is written. (The ACL itself can be read only with `acl` rights the
 * gateway's user should not have.) Without this a missing command shows only when a request first
 * needs it (a dance's callback, a take-back), as a 503 whose reason is in the access line.
 */
import type { RedisClient } from './redis-client.js'

/** The commands the store runs, as an ACL grants them (docs/store.md). */
export function commandsNeeded(acknowledged: boolean): string {
  return `get set del getdel scan ping eval incrby pexpire decr info${acknowledged ? ' wait' : ''}`
}

/** Redis's words for a command or key its ACL refuses. */
const REFUSED = /NOPERM|no permissions/i

/** What the store runs, on `key` (its scripts' own commands as plain ones: a script may run only what the user may). */
function queued(key: string): string[][] {
  // Ordered so that, run for real (a user refused MULTI itself), they leave nothing behind: DEL last.
  return [['SET', key, '1', 'PX', '10000', 'NX'], ['GET', key], ['GETDEL', key], ['EVAL', 'return 1', '1', key], ['INCRBY', key, '1'], ['PEXPIRE', key, '10000'], ['DECR', key], ['DEL', key]]
}

/** The probe keys of checks in flight: their READONLY answers (a replica) are no reason to reconnect. */
const probing = new Set<string>()

/**
 * Whether `e` answered a command of a permission probe in flight. A replica refuses the probe's
 * queued writes READONLY; reconnecting on those (as on a real write's) would connect again, probe
 * again and be refused again, several times a second for as long as the server stays a replica.
 */
export function answersPermissionProbe(e: Error): boolean {
  const args = (e as { command?: { args?: unknown } }).command?.args
  return Array.isArray(args) && typeof args[0] === 'string' && probing.has(args[0])
}

/** A user refused MULTI or DISCARD: this probe cannot check it (the gateway itself needs neither). */
export const UNCHECKABLE = 'uncheckable'

/**
 * The first command the ACL of `user` refuses, in words naming it and the ACL; undefined when
 * every one may run; UNCHECKABLE for a user refused MULTI or DISCARD. Other failures (Redis away)
 * reject: the probe cannot tell then.
 */
export async function permissionProblem(client: RedisClient, o: { key: string; pattern: string; prefix: string; user: string; acknowledged: boolean }): Promise<string | undefined> {
  const p = client.pipeline()
  // One write to the socket: no other command lands inside the MULTI.
  p.call('MULTI')
  const commands = queued(o.key)
  for (const c of commands) p.call(...(c as [string, ...string[]]))
  p.call('DISCARD')
  p.call('SCAN', '0', 'MATCH', o.pattern, 'COUNT', '1')
  if (o.acknowledged) p.call('WAIT', '0', '0')
  // Not `info`: without it only the client's ready check and the memory-policy reading are skipped (each says so), requests work.
  const names = ['multi', ...commands.map((c) => (c[0] as string).toLowerCase()), 'discard', 'scan', ...(o.acknowledged ? ['wait'] : [])]
  probing.add(o.key)
  let results: Awaited<ReturnType<typeof p.exec>>
  try {
    results = await p.exec()
  } finally {
    probing.delete(o.key)
  }
  results ??= []
  // A MULTI left open would queue every later command of the connection: start a fresh one.
  if (results[0]?.[0] == null && results[commands.length + 1]?.[0]) {
    client.disconnect(true)
    return UNCHECKABLE
  }
  for (const [i, [err]] of results.entries()) {
    if (!err) continue
    if (!REFUSED.test(err.message)) throw err
    // The gateway itself never needs MULTI: a user without it is not checked (unknown, not refused).
    if (i === 0) return UNCHECKABLE
    return `the ACL of Redis user "${o.user}" refuses ${names[i] ?? '?'} (${err.message}): the gateway needs ${commandsNeeded(o.acknowledged)} on ~${o.prefix}* (docs/store.md); requests that need it fail with 503 store_unavailable`
  }
  return undefined
}
