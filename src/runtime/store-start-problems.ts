/**
 * What opening the store would stop a start on, found without opening it: `check` and the
 * console's draft validator read these with the rest of a start's checks. A start opens the
 * store only when the config keeps something in it (needsStore): the Redis store reads its
 * `store.redis.tls` files then, and the SQLite store refuses a file it could not open with
 * sqliteFileProblem's words (the file is not created to find out).
 */
import { configProblem, needsStore, type GatewayConfig } from '../config/index.js'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { sqliteFileProblem } from '../store/index.js'
import { redisStoreOptions } from './redis-options.js'

/** An unreadable `store.redis.tls` file, or a SQLite `store.file` that cannot be opened, of a config whose start opens the store. */
export function storeStartProblems(config: GatewayConfig): readonly ConfigProblem[] {
  if (!needsStore(config)) return []
  if (config.store.kind === 'sqlite') {
    const msg = sqliteFileProblem(config.store.file)
    return msg === undefined ? [] : [configProblem(config, 'store.file', msg)]
  }
  try {
    redisStoreOptions(config)
    return []
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    return e.problems
  }
}
