/**
 * What the Redis store looks at each time it connects (a start, a reconnect, a failover to a new
 * primary): whether a primary's `maxmemory-policy` may evict the gateway's keys, and whether the
 * user's ACL refuses a command the gateway uses. Both are told as warnings; a refused command also
 * fails the store's ping until the ACL grants it.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { GatewayError } from '../errors.js'
import { isCluster, type RedisClient } from './redis-client.js'
import type { KeyLayout } from './redis-keys.js'
import { evictionRisk, maxmemoryPolicyOf } from './redis-memory-policy.js'
import { permissionProblem, UNCHECKABLE } from './redis-permissions.js'
import { outsideRequests } from './request-wait.js'
import type { RedisConnectWarning, RedisStoreOptions } from './redis-store-options.js'
import { UNREACHABLE } from './store.js'

/** How the store runs a command (bounded, its failures in its words), and where it is. */
export interface ConnectCheckContext {
  where: string
  keys: KeyLayout
  prefix: string
  options: RedisStoreOptions
  acknowledged: boolean
  run: <T>(op: string, fn: () => Promise<T>) => Promise<T>
  /** The primaries to read (a Cluster's, once known). */
  primaries: () => Promise<Redis[]>
}

export class ConnectChecks {
  /** The last command the user's ACL refused, found at a connection: the ping fails while it lasts. */
  #refused: string | undefined
  /** The user may not run MULTI or DISCARD, which the check needs: it is not checked again. */
  #uncheckable = false
  readonly #user: string
  /**
   * The `run_id` of the server each primary's last connection reached: one entry for one server or
   * Sentinel's primary (whichever address), one per address for a Cluster's primaries.
   */
  readonly #runIds = new Map<string, string>()
  readonly #told: (warning: RedisConnectWarning) => void

  constructor(
    private readonly redis: RedisClient,
    private readonly c: ConnectCheckContext,
  ) {
    this.#user = c.options.username ?? userOfUrl(c.options.url) ?? 'default'
    this.#told = c.options.onConnectWarning ?? (() => undefined)
    // A Cluster stays ready while one primary restarts: its connection to that node (a new one
    // per node, made as the slot map names it) is where a restart shows.
    if (isCluster(redis)) redis.on('+node', (node: Redis) => node.on('ready', () => outsideRequests(() => void this.#tellServerChange(node).catch(() => undefined))))
  }

  /**
   * A connection is ready: look again (another primary, a changed ACL), and tell what is found.
   * Outside every request: a connection a request's command made (a Cluster node a redirect or the
   * slot map named) is ready in that request's context, and a check failing there would fail the
   * request's later store calls at once (request-wait.ts), or be skipped for its earlier failure.
   */
  connected(): void {
    outsideRequests(() => {
      const told = this.#told
      this.#checkPermissions().then((problem) => problem !== undefined && told({ about: 'permissions', problem }), () => undefined)
      this.evictionRisk().then((problem) => problem !== undefined && told({ about: 'memory_policy', problem }), () => undefined)
      if (!isCluster(this.redis)) this.#tellServerChange(this.redis).catch(() => undefined)
    })
  }

  /** Another server than the last connection's (INFO's `run_id` changes with a restart or a failover): what it may have lost, said once. */
  async #tellServerChange(node: Redis): Promise<void> {
    // A Cluster's replicas are not read from, and one restarted copies its primary again.
    if (isCluster(this.redis) && node.options.readOnly === true) return
    const address = isCluster(this.redis) ? `${node.options.host ?? ''}:${node.options.port ?? ''}` : ''
    const runId = /^run_id:(\S+)/m.exec(await this.c.run('info', () => node.info('server')).catch(() => ''))?.[1]
    const before = this.#runIds.get(address)
    if (runId !== undefined) this.#runIds.set(address, runId)
    if (before === undefined || runId === undefined || runId === before) return
    const which = address === '' ? 'the primary' : `the primary ${address}`
    const lost = address === '' ? 'every key' : 'every key of its slots'
    const problem =
      `redis store ${this.c.where}: ${which} is another server process than before this reconnect (run_id ${before} → ${runId}: a restart, or a failover). ` +
      `A server restarted with nothing on disk has lost ${lost}: bearers (callers get 401 bearer_unknown and exchange again), jti replay entries, users' tokens (they authorize again), throttle counters`
    this.#told({ about: 'server_changed', problem })
  }

  /** Throws the refusal found at a connection while the ACL still refuses (looked at again). */
  async stillRefused(): Promise<void> {
    if (this.#refused !== undefined && (await this.#checkPermissions()) !== undefined) {
      throw new GatewayError('store_unavailable', this.#refused, { callerMessage: UNREACHABLE })
    }
  }

  /**
   * Why this Redis may silently drop the gateway's keys: each primary's `maxmemory-policy`, unless
   * `noeviction`; undefined when every primary keeps them. Throws when it cannot be read now (Redis
   * away: the ping says so; `info` not allowed: the client's ready check warns of that).
   */
  async evictionRisk(): Promise<string | undefined> {
    const redis = this.redis
    const primaries: Redis[] = isCluster(redis) ? await this.c.primaries() : [redis]
    const risks = await Promise.all(
      primaries.map(async (node) => {
        const policy = maxmemoryPolicyOf(await this.c.run('info', () => node.info('memory')))
        const where = isCluster(redis) ? `primary ${node.options.host ?? ''}:${node.options.port ?? ''}` : `the primary${node.stream?.remoteAddress ? ` ${node.stream.remoteAddress}:${node.stream.remotePort ?? ''}` : ''}`
        return policy === undefined ? undefined : evictionRisk(where, policy)
      }),
    )
    const found = risks.filter((r) => r !== undefined)
    return found.length === 0 ? undefined : `redis store ${this.c.where}: ${found.join('; ')}`
  }

  /** Queues each command the gateway uses on a probe key (permissionProblem); the first the ACL refuses, named and kept. */
  async #checkPermissions(): Promise<string | undefined> {
    if (this.#uncheckable) return undefined
    const probe = `acl-check:${randomUUID()}`
    const o = { key: this.c.keys.toRedis(probe), pattern: this.c.keys.pattern(probe), prefix: this.c.prefix, user: this.#user, acknowledged: this.c.acknowledged }
    const found = await this.c.run('acl check', () => permissionProblem(this.redis, o))
    this.#uncheckable = found === UNCHECKABLE
    this.#refused = found === undefined || found === UNCHECKABLE ? undefined : `redis store ${this.c.where}: ${found}`
    return this.#refused
  }
}

/** The user a `redis://user:password@…` URL names, if any. */
function userOfUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined
  try {
    return decodeURIComponent(new URL(url).username) || undefined
  } catch {
    return undefined
  }
}
