import { openRedisStore, type RedisStoreOptions } from './redis.js'
import { openSqliteStore } from './sqlite.js'
import type { Store } from './store.js'

export type { BoundedIncrement, FailoverWatch, RenewedConnections, Store, WeightedCounter } from './store.js'
export { SqliteStore, openSqliteStore, type SqliteStoreOptions } from './sqlite.js'
export { sqliteFileProblem } from './sqlite-location.js'
export { SqliteDriverError } from './sqlite-driver.js'
export { RedisStore, openRedisStore, type RedisConnectWarning, type RedisStoreOptions, type ReplicaAcknowledgement } from './redis.js'
export type { RedisAddress, RedisTlsOptions } from './redis-client.js'
export { RedisSettingError } from './redis-setting-error.js'
export { asUnwaitedWrite, needsOneStoreWait, withOneStoreWait } from './request-wait.js'
export { MemoryStore, type MemoryStoreOptions } from './memory.js'
export { SealError, createSealer, parseSealKey, unlessSealError, type SealErrorCode, type SealKey, type Sealer } from './seal.js'
export {
  getRecord,
  openRecord,
  putRecord,
  putRecordIfAbsent,
  recordSealKeyIds,
  resealRecord,
  sealedRecords,
  sealRecord,
  takeRecord,
  type OptionalSeal,
  type SecretFields,
} from './records.js'
export { endRecords, type RecordEnd } from './record-ends.js'
export { emptyCount, replaceInBackground, RESEALED_KINDS, resealRecords, sealedValues, tally, type ResealCount, type ResealedKind, type SealedKind } from './reseal.js'

/** Which persistent backend holds the gateway's state. */
export type StoreConfig = { kind: 'sqlite'; file: string } | ({ kind: 'redis' } & RedisStoreOptions)

/** Opens the configured persistent store (SQLite file or Redis). */
export function openStore(config: StoreConfig): Store {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteStore({ file: config.file })
    case 'redis':
      return openRedisStore(config)
  }
}
