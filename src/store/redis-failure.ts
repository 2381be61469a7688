/** A Redis store operation's failure, in the operator's words (the access line's `error`); the caller is told UNREACHABLE only. */
import { GatewayError } from '../errors.js'
import type { RedisStoreOptions } from './redis-store-options.js'
import { UNREACHABLE } from './store.js'

/** What the connection last showed: its error, and a READONLY answer since the last write that went through. */
export interface ConnectionState {
  status: string
  lastError: Error | undefined
  readOnly: Error | undefined
  /** The config keys to blame when Redis, or a Sentinel, refuses the credentials (credentialKeys). */
  credentials: CredentialKeys
}

/** The config keys holding the credentials a server and a Sentinel are sent. */
export interface CredentialKeys {
  server: string
  sentinel: string
}

/** Redis refusing a password or user (WRONGPASS), or asking for one (NOAUTH). */
const REFUSED = /\b(WRONGPASS|NOAUTH)\b/
/** ioredis's words for a Sentinel lookup that failed at every Sentinel (the refusal is its last error). */
const AT_SENTINELS = /sentinel/i

/** Redis 7's trailer on an error raised inside a script (" script: <sha1>, on @user_script:<line>."): the operator's words leave it out. */
const SCRIPT_TRAILER = / script: [0-9a-f]{40}, on @user_script:\d+\.$/

/** `message` without a script's trailer, so one refusal reads the same from a command and from a script. */
function withoutScriptTrailer(message: string): string {
  return message.replace(SCRIPT_TRAILER, '')
}

/** Where the credentials of `o` come from, as config keys. */
export function credentialKeys(o: Pick<RedisStoreOptions, 'url' | 'username' | 'password' | 'sentinel'>): CredentialKeys {
  const inUrl = o.url !== undefined && /^[a-z]+:\/\/[^/]*@/i.test(o.url)
  const server = o.password !== undefined ? (o.username !== undefined ? 'store.redis.username and store.redis.password' : 'store.redis.password')
    : inUrl ? 'the user and password in store.url' : 'store.redis.password (none is set)'
  const sentinel = o.sentinel?.sentinelPassword === undefined ? 'store.redis.sentinel.password (none is set)'
    : o.sentinel.sentinelUsername !== undefined ? 'store.redis.sentinel.username and store.redis.sentinel.password' : 'store.redis.sentinel.password'
  return { server, sentinel }
}

/**
 * The refusal of the credentials in `e`, naming the config keys to fix; a Cluster hides it in
 * `lastNodeError` behind "Failed to refresh slots cache.", a Sentinel lookup behind "All sentinels are unreachable".
 */
function credentialsRefused(e: unknown, keys: CredentialKeys): string | undefined {
  if (!(e instanceof Error)) return undefined
  const node = (e as { lastNodeError?: unknown }).lastNodeError
  const refused = [node instanceof Error ? node.message : '', e.message].find((m) => REFUSED.test(m))
  if (refused === undefined) return undefined
  const atSentinel = AT_SENTINELS.test(e.message) && !(node instanceof Error)
  return `${atSentinel ? 'a Sentinel' : 'the server'} refuses the gateway's credentials (${refused}): check ${atSentinel ? keys.sentinel : keys.server}`
}

export function storeFailure(where: string, op: string, e: unknown, c: ConnectionState): GatewayError {
  if (e instanceof GatewayError) return e
  const why = e instanceof Error ? e.message : String(e)
  const refused = credentialsRefused(e, c.credentials) ?? credentialsRefused(c.lastError, c.credentials)
  if (refused !== undefined) return new GatewayError('store_unavailable', `redis store ${where}: ${op} failed: ${refused}`, { cause: e, callerMessage: UNREACHABLE })
  // A replica answers READONLY and the client reconnects and resends until the bound: say so, not "unreachable".
  if (c.readOnly) {
    return new GatewayError('store_unavailable', `redis store ${where}: ${op} failed: the server is a read-only replica (${withoutScriptTrailer(c.readOnly.message)}): a failover in progress, or a stale Sentinel or URL naming a demoted primary`, { cause: e, callerMessage: UNREACHABLE })
  }
  if (c.status !== 'ready') {
    // ioredis's own error ("max retries", "timed out") says less than the connection's.
    const conn = c.lastError?.message ?? `${why} while ${c.status === 'connect' ? 'handshaking' : c.status}`
    return new GatewayError('store_unavailable', `redis store ${where} is unreachable (${conn}): ${op} failed`, { cause: e, callerMessage: UNREACHABLE })
  }
  return new GatewayError('store_unavailable', `redis store ${where}: ${op} failed: ${why}`, { cause: e, callerMessage: UNREACHABLE })
}
