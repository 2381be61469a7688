/**
 * What really ended a request whose response had started or whose caller left: the access
 * log and metrics say "the caller went away" or "the upstream cut the body short", never the
 * consequence (a failed upstream write, a reset) that followed.
 */
import { GatewayError, type ErrorSurface } from '../errors.js'
import { describeMalformedResponse } from '../tls/index.js'
import type { RequestFacts } from './pipeline.js'

/** The caller closed the connection before the response was complete. */
export function callerAborted(): GatewayError {
  return new GatewayError('caller_aborted', 'the caller closed the connection before the response was complete')
}

/**
 * The upstream's response body failed after its status was already forwarded (`sent`), or before
 * anything of it was (`sent` false: in the head's own read; the caller gets this error's answer).
 */
export function responseCutShort(err: unknown, endpoint: string | undefined, status: number, sent = true): GatewayError {
  const code = (err as { code?: unknown } | undefined)?.code
  const name = endpoint === undefined ? 'the upstream' : `endpoint "${endpoint}"`
  const when = sent ? `after status ${status} was sent` : `before status ${status} was relayed`
  if (code === 'UND_ERR_BODY_TIMEOUT') return new GatewayError('upstream_timeout', `${name}: response body stalled ${sent ? `after status ${status}` : when}`, { cause: err })
  const malformed = describeMalformedResponse(err)
  if (malformed) return new GatewayError('upstream_response_malformed', `${name}: malformed response body${sent ? ' ' : ', found '}${when} (${malformed.code}): ${malformed.text}`, { cause: err })
  return new GatewayError('upstream_response_truncated', `${name}: response cut short ${when} (${typeof code === 'string' ? code : 'stream error'})`, { cause: err })
}

/** Where a request went and how it ended: filled as it runs, reported when the response closes. */
export interface Outcome {
  mode: 'forward' | 'connect' | 'route' | 'api' | 'other'
  surface: ErrorSurface
  facts: RequestFacts
  error?: GatewayError
}

/** An absolute-form target's scheme. A module constant: a regular expression literal in the function made a RegExp object per request. */
const ABSOLUTE_FORM = /^https?:\/\//i

/** The way in a request's target names (an intercepted tunnel's inner requests: connect); `hasApi`: the gateway API is served. */
export function wayIn(url: string, inTunnel: boolean, hasApi: boolean): Outcome['mode'] {
  if (inTunnel) return 'connect'
  if (ABSOLUTE_FORM.test(url)) return 'forward'
  if (url.startsWith('/proxy/')) return 'route'
  return hasApi && url.startsWith('/gateway/') ? 'api' : 'other'
}

/** Records `way` on `out`: the proxy path (forward, connect) answers caller-credential failures with 407, the others 401. */
export function enterWay(out: Outcome, way: Outcome['mode']): void {
  out.mode = way
  if (way === 'connect' || way === 'forward') out.surface = 'proxy'
}
