/**
 * One store wait per request. Each store operation is bounded (commandTimeout), but a request
 * that makes several in turn (the failure throttle's read, increment and take-back, then the
 * route's own) would wait that long for each while the store hangs. Inside `withOneStoreWait`,
 * once one operation failed with store_unavailable, every later one of the same request fails
 * at once with that failure: callers already treat it as the store being away (the throttle
 * falls back to its per-process count, the console to the session key it last read, a route
 * answers 503), so the request answers within one commandTimeout. A write the store took but its
 * replicas did not confirm (WAIT) is not remembered so: it landed, and the request's later writes
 * (a throttle's take-back) must land too. It bounds their WAIT instead: they are sent without one
 * (each would wait acknowledgeTimeout again for replicas that just failed to confirm) and fail
 * store_unavailable as unconfirmed, as the first did, once the primary took them. The Redis store calls
 * `failIfStoreFailed` before each operation and hands each failure to `rememberStoreFailure`,
 * and asks `unconfirmedWriteOfRequest` before each write it would WAIT for.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { GatewayError } from '../errors.js'

/** The store failures the current request met (one small object per request). */
class RequestStoreWait {
  failure: GatewayError | undefined = undefined
  /** The first write its replicas did not confirm, as the store described it. */
  unconfirmedWrite: string | undefined = undefined
}

// Asynchronous context, not a parameter: a request's store calls go through many layers
// (throttle, sessions, bearers, token repository) that share the process's one Store.
const requests = new AsyncLocalStorage<RequestStoreWait>()

/** Runs `handle(...args)` as one request whose store operations share one wait (see above). */
export function withOneStoreWait<A extends unknown[], R>(handle: (...args: A) => R, ...args: A): R {
  // Arguments, not a closure: the listener enters here once per request.
  return requests.run(new RequestStoreWait(), handle, ...args)
}

/**
 * Whether a request on a store of `kind` needs withOneStoreWait. Redis: each operation may wait
 * commandTimeout on the network. SQLite: an operation answers or fails at once, save a write
 * waiting out busy_timeout for another process's lock, and that wait blocks the whole process
 * (the driver is synchronous), which no per-request rule bounds: its proxied requests skip the scope.
 */
export function needsOneStoreWait(kind: 'sqlite' | 'redis'): boolean {
  return kind === 'redis'
}

/** Throws the store failure the current request met before, if any: an operation's first step. */
export function failIfStoreFailed(): void {
  const failure = requests.getStore()?.failure
  if (failure !== undefined) throw failure
}

/** `e`, kept for the current request when it says the store is unavailable (the first one stays): throw what it returns. */
export function rememberStoreFailure<E>(e: E): E {
  const request = requests.getStore()
  if (request !== undefined && e instanceof GatewayError && e.reason === 'store_unavailable') request.failure ??= e
  return e
}

/** The first write of the current request its replicas did not confirm (what it reached), if any: the request's later writes skip WAIT. */
export function unconfirmedWriteOfRequest(): string | undefined {
  return requests.getStore()?.unconfirmedWrite
}

/** `shortfall` (a write its replicas did not confirm), kept for the current request (the first one stays). */
export function rememberUnconfirmedWrite(shortfall: string): string {
  const request = requests.getStore()
  if (request !== undefined) request.unconfirmedWrite ??= shortfall
  return shortfall
}

/**
 * Runs `make` outside every request: what a store builds (its connections, their reconnects and
 * connect checks) outlives the request that opened it (a reload from the console), and its
 * callbacks must not fail at once on that request's store failure.
 */
export function outsideRequests<T>(make: () => T): T {
  return requests.exit(make)
}

/**
 * Runs `write` as a request of its own whose writes are sent without WAIT, as after a write its
 * replicas did not confirm (`why`, in their errors): a failure throttle's give-back of a take the
 * store never answered, which must not fail at once on its request's store failure (the take may
 * still land when the store wakes), nor hold the connection in a WAIT for replicas.
 */
export function asUnwaitedWrite<T>(why: string, write: () => T): T {
  const request = new RequestStoreWait()
  request.unconfirmedWrite = why
  return requests.run(request, write)
}
