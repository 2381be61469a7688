/** Process-lifetime state (store, observer, buffered-body budget) apart from the config snapshot a reload swaps. */
export { createRuntime, createStoreFile, storeConfigOf, storeOpenProblems, type Runtime, type RuntimeOptions } from './runtime.js'
export { adoptConfig, restartBaseline, restartOnlyChanges, storeLocationChanges, type RestartBaseline } from './restart-only.js'
export { needsStore } from '../config/index.js'
export type { Observer } from './observer.js'
export { redisStoreOptions, renewedConnections } from './redis-options.js'
export { storeStartProblems } from './store-start-problems.js'
export { keepRequestObjectsYoung } from './young-objects.js'
export { createBufferedBodies, type BodyHold, type BufferedBodies } from './buffered-bodies.js'
