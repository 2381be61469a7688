/**
 * Whether a Redis may evict the gateway's keys: its `maxmemory-policy`, read from `INFO memory`
 * (CONFIG GET is disabled on managed Redis). `noeviction` fails writes when memory is full (503,
 * nothing lost); a `volatile-*` policy silently drops keys with a TTL (bearers, `jti` replay
 * entries: a replayed assertion then passes, throttle counters), an `allkeys-*` one any key.
 */

/** The policy `INFO memory` names, or undefined when the reply has none (not a Redis we know). */
export function maxmemoryPolicyOf(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1]
}

/** What an evicting policy on `primary` ("primary host:port") puts at risk; undefined for `noeviction`. */
export function evictionRisk(primary: string, policy: string): string | undefined {
  if (policy === 'noeviction') return undefined
  const what = policy.startsWith('volatile-')
    ? 'any key it wrote with a TTL'
    : "any key it wrote, users' access tokens included"
  return (
    `${primary} has maxmemory-policy ${policy}: under memory pressure Redis evicts ${what} ` +
    '(bearers, jti replay entries: a replayed assertion then passes, throttle counters); set maxmemory-policy noeviction'
  )
}
