/**
 * Which log lines an unauthenticated client can cause at will, and their cap (line-cap.ts,
 * `logging.callerFaults`): a request or handshake that ended in a caller's fault with no caller
 * authenticated, a limit that closed a slow client, an admin request refused by the parser.
 * A proxied request's upstream failure (an `upstream_…` reason: a dead upstream, a pass-through
 * dial) with no caller authenticated is one too (isUpstreamFailure). Other failures on the gateway's side (5xx
 * reasons but CLIENT_CAUSED_5XX's and upstream ones, `internal` with its stack) and
 * lines of authenticated callers are never capped: they are what an operator must see. Nor are
 * security refusals an SRE follows per event, whoever caused them: egress_denied (the egress/SSRF
 * policy), path_escapes_base (a path leaving the endpoint's base path or tenant segment, where
 * credentials are attached), caller_not_allowed. The dance's browser-binding refusals
 * (oauth_browser_mismatch) are capped: anyone holding a link or a request token can forge them at
 * will, one line each; the first `burst` of a window are written whole and the summary names the
 * addresses held back, so a genuine one is seen in a quiet log and counted in a flood.
 */
import { REASONS, STATUS, type Reason } from '../errors.js'
import { CLIENT_CAUSED_5XX } from './access-line.js'
import type { RequestRecord } from '../proxy/listener.js'
import { OPEN_CALLER_ID } from '../callers/index.js'
import type { GatewayLog } from './log.js'
import { startLineCap, type LineCapSettings, type TimedLineCap } from './line-cap.js'

/**
 * Refusals an operator needs one line each for, even from a client no one authenticated: each is
 * an attempt at what the gateway protects (a path leaving the base its credentials are for, an
 * address egress policy forbids, an endpoint the caller may not use).
 */
const PER_EVENT: ReadonlySet<Reason> = new Set<Reason>(['path_escapes_base', 'egress_denied', 'caller_not_allowed'])

/**
 * Reasons a client causes without credentials: every 4xx reason (a credential challenge is one;
 * 499, the caller leaving, too) and CLIENT_CAUSED_5XX, but PER_EVENT's. Derived from the reason
 * table, so a new client-side reason is capped unless it is named above; nothing else on the
 * gateway's or an upstream's side (5xx) ever is.
 */
const CALLER_FAULTS: ReadonlySet<Reason> = new Set<Reason>(
  REASONS.filter((r) => !PER_EVENT.has(r) && (STATUS[r] === 'challenge' || (STATUS[r] as number) < 500 || CLIENT_CAUSED_5XX.has(r))),
)

/**
 * A proxied request's line (forward, route, CONNECT) with an upstream reason: an endpoint's
 * upstream (or a pass-through destination) that refused, reset, timed out or failed TLS. The
 * upstream's failure, not the caller's nor the gateway's, but the caller picks which endpoint or
 * allowed destination and how often: without an authenticated caller (the open caller is anyone),
 * a loop to a dead one would write a warn line each, unbounded. The first `burst` lines of a
 * window still name the reason and endpoint. The dance's pages are not proxied requests: a link
 * click the provider cannot serve needs a link an authenticated caller made, used once.
 */
const PROXIED: ReadonlySet<RequestRecord['mode']> = new Set(['forward', 'route', 'connect'])
const isUpstreamFailure = (r: RequestRecord, reason: Reason): boolean => PROXIED.has(r.mode) && reason.startsWith('upstream_')

/** What a capped line is: a finished request's access line, a failed handshake's, or a limit's line. */
export type FaultKind = 'request' | 'tls_handshake' | 'limit'

/** The cap on caller-fault lines of one process. */
export interface CallerFaultLines {
  /** False when `record`'s access line is over its budget (its metrics are counted anyway). */
  accessAllowed(record: RequestRecord): boolean
  /** False when a line of `kind` about `reason` on `listener` is over its budget; `client` (its address) is named in the summary. */
  allowed(listener: string, kind: FaultKind, reason: string, client?: string): boolean
  /** Writes the pending summaries (at exit). */
  flush(): void
}

const SEP = '\u0000'

/** Creates the cap, reading `settings()` (the current snapshot's) at each line; summaries go to `log` at warn. */
export function capCallerFaultLines(log: Pick<GatewayLog, 'logger'>, settings: () => LineCapSettings): CallerFaultLines {
  const cap: TimedLineCap = startLineCap(settings, (s) => {
    const [listener, kind, reason] = s.key.split(SEP)
    const seconds = s.intervalMs / 1000
    log.logger.warn({ listener, kind, reason, suppressed: s.suppressed, intervalS: seconds, clients: s.clients, otherClientLines: s.otherClientLines }, `suppressed ${s.suppressed} similar lines in the last ${seconds} s (${reason ?? ''})`)
  })
  const allowed = (listener: string, kind: FaultKind, reason: string, client?: string): boolean => cap.take(`${listener}${SEP}${kind}${SEP}${reason}`, client)
  return {
    accessAllowed(r) {
      const reason = r.error?.reason
      // The open caller (callers.required: false) is anyone: no one authenticated it.
      const authenticated = r.facts.caller !== undefined && r.facts.caller !== OPEN_CALLER_ID
      if (reason === undefined || authenticated || !(CALLER_FAULTS.has(reason) || isUpstreamFailure(r, reason))) return true
      return allowed('proxy', r.handshake ? 'tls_handshake' : 'request', reason, r.clientAddress)
    },
    allowed,
    flush: () => cap.flush(),
  }
}
