/**
 * One store wait per request. Each store operation is bounded (commandTimeout), but a request
 * that makes several in turn (the failure throttle's read, increment and take-back, then the
 * route's own) would wait that long for each while the store hangs. Inside `withOneStoreWait`,
 * once one operation failed with store_unavailable, every later one of the same request fails
 * at once with that failure: callers already treat it as the store being away (the throttle
 * falls back to its per-process count, the console to the session key it last read, a route
 * answers 503), so the request answers within one commandTimeout.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { GatewayError } from '../errors.js'

/** The store failure the current request met, once it met one. */
interface RequestStoreWait {
  failure: GatewayError | undefined
}

// Asynchronous context, not a parameter: a request's store calls go through many layers
// (throttle, sessions, token repository) that share the process's one Store.
const requests = new AsyncLocalStorage<RequestStoreWait>()

/** Runs one request's handling so that its store operations share one wait (see above). */
export function withOneStoreWait<T>(handle: () => Promise<T>): Promise<T> {
  return requests.run({ failure: undefined }, handle)
}

/** Runs a store operation: at once the request's earlier store failure, if any; else `op`, its store failure remembered for the request. */
export async function withinRequestWait<T>(op: () => Promise<T>): Promise<T> {
  const request = requests.getStore()
  if (request?.failure) throw request.failure
  try {
    return await op()
  } catch (e) {
    if (request && e instanceof GatewayError && e.reason === 'store_unavailable') request.failure ??= e
    throw e
  }
}
