/**
 * Which log lines an unauthenticated client can cause at will, and their cap (line-cap.ts,
 * `logging.callerFaults`): a request or handshake that ended in a caller's fault with no caller
 * authenticated, a limit that closed a slow client, an admin request refused by the parser.
 * Failures on the gateway's or an upstream's side (5xx reasons, `internal` with its stack) and
 * lines of authenticated callers are never capped: they are what an operator must see. Nor are
 * security refusals an SRE follows per event, whoever caused them: egress_denied (the egress/SSRF
 * policy), path_escapes_base (a path leaving the endpoint's base path or tenant segment, where
 * credentials are attached), caller_not_allowed.
 */
import type { Reason } from '../errors.js'
import type { RequestRecord } from '../proxy/listener.js'
import type { GatewayLog } from './log.js'
import { startLineCap, type LineCapSettings, type TimedLineCap } from './line-cap.js'

/** Reasons a client causes without credentials (nothing on the gateway's or an upstream's side failed). */
const CALLER_FAULTS: ReadonlySet<Reason> = new Set<Reason>([
  'bad_request', 'tenant_invalid', 'body_too_large', 'request_timeout', 'headers_too_large',
  'expectation_failed', 'unsupported_payload', 'endpoint_not_configured', 'caller_credentials_missing',
  'caller_credentials_invalid', 'jwt_replay', 'caller_aborted', 'not_found', 'method_not_allowed',
])

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
export function capCallerFaultLines(log: GatewayLog, settings: () => LineCapSettings): CallerFaultLines {
  const cap: TimedLineCap = startLineCap(settings, (s) => {
    const [listener, kind, reason] = s.key.split(SEP)
    const seconds = s.intervalMs / 1000
    log.logger.warn({ listener, kind, reason, suppressed: s.suppressed, intervalS: seconds, clients: s.clients, otherClientLines: s.otherClientLines }, `suppressed ${s.suppressed} similar lines in the last ${seconds} s (${reason ?? ''})`)
  })
  const allowed = (listener: string, kind: FaultKind, reason: string, client?: string): boolean => cap.take(`${listener}${SEP}${kind}${SEP}${reason}`, client)
  return {
    accessAllowed(r) {
      const reason = r.error?.reason
      if (reason === undefined || r.facts.caller !== undefined || !CALLER_FAULTS.has(reason)) return true
      return allowed('proxy', r.handshake ? 'tls_handshake' : 'request', reason, r.clientAddress)
    },
    allowed,
    flush: () => cap.flush(),
  }
}
