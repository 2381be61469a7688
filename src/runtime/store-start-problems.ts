/**
 * What opening the store would stop a start on, found without opening it: `check` and the
 * console's draft validator read these with the rest of a start's checks. A start opens the
 * store only when the config keeps something in it (needsStore), and the Redis store reads
 * its `store.redis.tls` files then; the SQLite file is not created to find out.
 */
import type { GatewayConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { redisStoreOptions } from './redis-options.js'
import { needsStore } from './runtime.js'

/** An unreadable `store.redis.tls` file of a config whose start opens the Redis store. */
export function storeStartProblems(config: GatewayConfig): readonly ConfigProblem[] {
  if (config.store.kind !== 'redis' || !needsStore(config)) return []
  try {
    redisStoreOptions(config)
    return []
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    return e.problems
  }
}
