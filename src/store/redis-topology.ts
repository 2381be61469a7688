/**
 * Which Redis topology a store's options name, and how messages name it (never with its
 * credentials).
 */
import type { ClusterOptions, RedisAddress, RedisTopology, SentinelOptions } from './redis-client.js'
import { RedisSettingError } from './redis-setting-error.js'

/** The one topology the options name (exactly one of url, sentinel, cluster). */
export function topologyOf(o: { url?: string; sentinel?: SentinelOptions; cluster?: ClusterOptions }): RedisTopology {
  const given = [o.url, o.sentinel, o.cluster].filter((x) => x !== undefined).length
  if (given !== 1) throw new TypeError('redis store: give exactly one of url, sentinel or cluster')
  if (o.sentinel) return { kind: 'sentinel', ...o.sentinel }
  if (o.cluster) return { kind: 'cluster', ...o.cluster }
  return { kind: 'standalone', url: o.url as string }
}

/** Where the store is, without credentials, for messages. */
export function describeTopology(t: RedisTopology): string {
  const list = (a: RedisAddress[]): string => a.map((x) => `${x.host}:${x.port}`).join(',')
  switch (t.kind) {
    case 'standalone':
      return describeUrl(t.url)
    case 'sentinel':
      return `sentinel "${t.primaryName}" via ${list(t.sentinels)}`
    case 'cluster':
      return `cluster ${list(t.nodes)}`
  }
}

/** The URL without credentials, for messages. */
function describeUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    // Never echo the text: it may carry a password.
    throw new RedisSettingError('url', 'redis store: url is not a valid URL (expected redis://host:port)')
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new RedisSettingError('url', `redis store: url scheme must be redis: or rediss:, got ${u.protocol}`)
  }
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
}
