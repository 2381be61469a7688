/**
 * A bundle outside its validity period degrades its upstream: every request is refused before it
 * reaches the pool (no dial, no kept-alive connection), and the cached sessions are dropped, so a
 * session made while the bundle was valid is never resumed after.
 */
import { GatewayError } from '../errors.js'
import type { BundleValidity } from '../tls/index.js'
import type { Dispatcher } from './undici-agent.js'

/** What names a degraded upstream and judges its bundle. */
interface Judged {
  endpoint: string
  tenant?: string
  validity?: BundleValidity
}

/** The request-path error of a degraded upstream, or undefined when its bundle is usable now. */
export function degradation(o: Judged, now = Date.now()): GatewayError | undefined {
  const fault = o.validity?.faults(now)[0]
  if (!fault) return undefined
  const who = o.tenant === undefined ? `endpoint "${o.endpoint}"` : `endpoint "${o.endpoint}" tenant "${o.tenant}"`
  return new GatewayError(fault.reason, `${who}: ${fault.msg}`)
}

/** Throws while the bundle is outside its validity period, dropping the cached sessions. */
export function refuseIfDegraded(o: Judged, sessions: Map<string, Buffer>): void {
  const degraded = degradation(o)
  if (degraded) {
    sessions.clear()
    throw degraded
  }
}

/** Refuses every request while the bundle is degraded (undici interceptor, for Dispatcher.request users). */
export function refuseWhileDegraded(o: Judged, sessions: Map<string, Buffer>): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    // Thrown before the pool sees the request: Dispatcher.request rejects with it.
    refuseIfDegraded(o, sessions)
    return dispatch(opts, handler)
  }
}
