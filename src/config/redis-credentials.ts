/**
 * A user or password in `store.url` and in `store.redis.username` / `password` too. The Redis
 * client takes the URL's, both of them, whenever it holds either (an unwritten one as empty), and
 * leaves the keys unused at start, while a reload's password rotation hands new connections the
 * key's. Two values that differ are therefore refused, at the key left unused, never showing
 * either (they are secrets); the same value twice is accepted, with a warning that a rotation must
 * change both (a Helm release may hold the password in its URL Secret and under `passwordKey`).
 * Judged on the values references resolved to.
 */
import type { ConfigProblem } from '../errors.js'
import type { Raw, Report } from './normalize-util.js'
import { configProblem } from './placed-problems.js'
import type { GatewayConfig } from './types.js'

const KEYS = ['username', 'password'] as const

/** A user or password of a Redis URL `%`-decoded as the client decodes it; an escape that does not decode stays as written. */
export function decodedUrlCredential(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** The user and password the client reads from `url`; undefined when it holds neither (or is no URL). */
function urlCredentials(url: string | undefined): Record<(typeof KEYS)[number], string> | undefined {
  if (url === undefined || !URL.canParse(url)) return undefined
  const { username, password } = new URL(url)
  return username === '' && password === '' ? undefined : { username: decodedUrlCredential(username), password: decodedUrlCredential(password) }
}

/** Reports `store.redis.username` / `password` where it differs from what `url` holds. */
export function checkRedisCredentials(r: Raw, url: string | undefined, report: Report): void {
  const inUrl = urlCredentials(url)
  if (inUrl === undefined) return
  for (const key of KEYS) {
    const value = r[key]
    if (typeof value === 'string' && value !== inUrl[key]) {
      const what = key === 'username' ? 'user' : 'password'
      report([key], `differs from the ${what} store.url holds${inUrl[key] === '' ? ' (none, as it holds a user or password)' : ''}: the Redis client uses the URL's and ignores this key; give the credentials in one place (or the same in both)`)
    }
  }
}

/** One warning per `store.redis.username` / `password` that repeats what the Redis store's URL holds. */
export function repeatedRedisCredentialWarnings(config: GatewayConfig): ConfigProblem[] {
  const { kind, url, redis } = config.store
  const inUrl = kind === 'redis' ? urlCredentials(url) : undefined
  if (inUrl === undefined) return []
  return KEYS.filter((key) => redis[key] !== undefined && redis[key] === inUrl[key]).map((key) =>
    configProblem(config, `store.redis.${key}`, `the same value is in store.url: the Redis client uses the URL's; a rotation must change both (a new store.url needs a restart), so give it in one place`),
  )
}
