/** `store.redis`: defaults, file paths made absolute, and the rules between its keys. */
import { parseDuration, plainNumber } from './units.js'
import { obj, str, type Raw, type Report } from './normalize-util.js'
import type { HostPort, RedisSettings } from './types.js'
import { checkRedisCredentials } from './redis-credentials.js'

const optional = <K extends string>(key: K, value: string | undefined): { [P in K]?: string } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: string }

/** `host:port` entries (the schema checked their form); a port outside 1–65535 is reported at its entry. */
function hostPorts(v: unknown, path: string[], report: Report): HostPort[] {
  return (Array.isArray(v) ? v : []).map((text, i) => {
    const s = String(text)
    const at = s.lastIndexOf(':')
    const port = Number(s.slice(at + 1))
    if (!(port >= 1 && port <= 65535)) report([...path, i], `port ${port} is not a TCP port (1–65535)`)
    return { host: s.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port }
  })
}

/**
 * Why a Redis URL cannot be opened, or undefined: the store would refuse it at start with no
 * key to name (or, with a database that is not a number, fail every command in the
 * background). The text is never echoed: it may carry a password.
 */
function redisUrlProblem(url: string): string | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return 'is not a valid URL (expected redis://host:port or rediss://host:port/db; a port is 1–65535)'
  }
  if (u.hostname === '') return 'names no host (expected redis://host:port)'
  if (u.port === '0') return 'port 0 is not a TCP port (1–65535)'
  if (!/^\/?(\d+)?$/.test(u.pathname)) return 'path must be a database number (/0, /1, …) or nothing'
  return queryProblem(u.searchParams)
}

/**
 * ioredis turns every query parameter of the URL into a client option, as a string, ahead of
 * the options the gateway sets: `?keyPrefix=` would move the store's keys, `?commandTimeout=`
 * undo its timeout, `?tls=` pick a TLS profile, a typo be ignored. Only `family` (which it reads
 * as a number) is taken, once: given twice, ioredis keeps the last and the gateway guesses none;
 * the rest are `store.*` settings. Names are echoed only when they look like option names,
 * values never (either may carry a password).
 */
function queryProblem(query: URLSearchParams): string | undefined {
  const seen = new Set<string>()
  for (const [name, value] of query) {
    const shown = /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(name) ? `query parameter "${name}"` : 'a query parameter'
    if (name !== 'family') return `${shown} is not taken: the only one is family (0, 4 or 6); TLS, credentials, timeouts and the key prefix are store.redis and store settings`
    if (seen.has(name)) return `${shown} is given more than once: the Redis client takes the last, and the gateway does not guess which one is meant; give it once`
    seen.add(name)
    if (!['0', '4', '6'].includes(value)) return 'query parameter "family" must be 0, 4 or 6'
  }
  return undefined
}

function normalizeRedisTls(t: Raw, abs: (p: string) => string, report: Report): NonNullable<RedisSettings['tls']> {
  const path = (key: string): { [k: string]: string } => (str(t[key]) === undefined ? {} : { [key]: abs(str(t[key]) as string) })
  if ((t.cert === undefined) !== (t.key === undefined)) report(['tls', t.cert === undefined ? 'cert' : 'key'], 'is required with tls.cert / tls.key (a client certificate needs its key)')
  return { ...path('ca'), ...path('cert'), ...path('key'), ...optional('keyPassphrase', str(t.keyPassphrase)), ...optional('serverName', str(t.serverName)) }
}

/**
 * Reports a kind redis without exactly one topology, a `url` it cannot open (redisUrlProblem),
 * one without TLS when `redis.tls` is given, or credentials in it that `redis` contradicts. The
 * URL is judged whatever the kind, as every other written key is: one the docs refuse must not
 * pass while the store is SQLite and then stop the reload that switches to Redis.
 */
function checkTopology(r: Raw, url: string | undefined, topologies: number, kind: string, report: Report): void {
  if (kind === 'redis' && topologies !== 1) {
    report(topologies === 0 ? ['url'] : [], topologies === 0 ? 'is required with kind redis (or give redis.sentinel or redis.cluster)' : 'give only one of url, redis.sentinel and redis.cluster')
  }
  const urlProblem = url === undefined ? undefined : redisUrlProblem(url)
  if (urlProblem !== undefined) {
    report(['url'], urlProblem)
    return
  }
  if (r.tls !== undefined && url !== undefined && !url.startsWith('rediss://')) report(['url'], 'must be rediss:// when redis.tls is given')
  checkRedisCredentials(r, url, report)
}

/** Normalises `store.redis`; `url` is the store's URL (a single server), when given. */
export function normalizeRedis(r: Raw, url: string | undefined, kind: string, abs: (p: string) => string, report: Report): RedisSettings {
  const sentinel = r.sentinel === undefined ? undefined : obj(r.sentinel)
  const cluster = r.cluster === undefined ? undefined : obj(r.cluster)
  checkTopology(r, url, [url, sentinel, cluster].filter((x) => x !== undefined).length, kind, report)
  const acknowledgeTimeoutMs = parseDuration((r.acknowledgeTimeout as string | number | undefined) ?? '1s')
  const commandTimeoutMs = parseDuration((r.commandTimeout as string | number | undefined) ?? '3s')
  // WAIT is a command: it must be able to wait its full time within the command timeout.
  if (acknowledgeTimeoutMs >= commandTimeoutMs) report(['acknowledgeTimeout'], `must be shorter than commandTimeout (${plainNumber(commandTimeoutMs)} ms)`)
  const connectTimeoutMs = parseDuration((r.connectTimeout as string | number | undefined) ?? '2s')
  // A Cluster's slot-map refresh waits connectTimeout: ioredis gives up on it at once at 0 (alone, 0 is no limit), and every store call failed.
  if (cluster !== undefined && connectTimeoutMs < 1) report(['connectTimeout'], `${String(r.connectTimeout)} is less than 1ms: with redis.cluster it bounds each refresh of the slot map, which fails at once at 0`)
  return {
    ...optional('username', str(r.username)),
    ...optional('password', str(r.password)),
    ...(r.tls !== undefined ? { tls: normalizeRedisTls(obj(r.tls), abs, (p, m) => report(p, m)) } : {}),
    ...(sentinel !== undefined
      ? {
          sentinel: {
            addresses: hostPorts(sentinel.addresses, ['sentinel', 'addresses'], report),
            primaryName: String(sentinel.primaryName),
            ...optional('username', str(sentinel.username)),
            ...optional('password', str(sentinel.password)),
            db: (sentinel.db as number | undefined) ?? 0,
          },
        }
      : {}),
    ...(cluster !== undefined ? { cluster: { nodes: hostPorts(cluster.nodes, ['cluster', 'nodes'], report) } } : {}),
    // A Sentinel deployment has replicas by definition: wait for one unless told otherwise.
    replicasToAcknowledge: (r.replicasToAcknowledge as number | undefined) ?? (sentinel !== undefined ? 1 : 0),
    acknowledgeTimeoutMs,
    commandTimeoutMs,
    connectTimeoutMs,
    gateReadiness: (r.gateReadiness as boolean | undefined) ?? false,
  }
}
