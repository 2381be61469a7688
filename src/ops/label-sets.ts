/**
 * The closed label sets whose series are created at 0 when the gateway starts: a counter
 * series that first appears at 1 has no increase for rate()/increase(), so the first caller
 * refusal or egress refusal after a start would be invisible to an alert. Records, so adding
 * a reason to the union without listing it here fails to compile.
 */
import type { AuthFailure } from '../callers/index.js'
import type { EgressReason } from '../gateway/index.js'
import type { WayIn } from '../config/index.js'
import type { RefusalReason } from '../proxy/connection-caps.js'
import type { Counter } from 'prom-client'

const AUTH: Record<AuthFailure, 0> = {
  missing: 0, malformed_credential: 0, malformed: 0, bad_issuer: 0, alg_not_allowed: 0, bad_signature: 0, expired: 0, not_yet_valid: 0, bad_audience: 0,
  missing_sub: 0, jti_exp_too_long: 0, jwt_lifetime_too_long: 0, replay: 0, jwe_unknown_kid: 0, jwe_alg_not_allowed: 0, jwe_decrypt_failed: 0,
  jwt_bearer_has_jti: 0, jwt_bearer_has_identity_to_merge: 0, bearer_unknown: 0, bearer_claims_unavailable: 0, app_not_configured: 0, app_key_changed: 0, app_audience_changed: 0, app_rsa15_disallowed: 0, claim_alias_prefix_changed: 0, bearer_ttl_shortened: 0, not_allowed: 0, invalid: 0,
  certificate_required: 0, admin_token_throttled: 0, token_exchange_throttled: 0,
}
const EGRESS: Record<EgressReason, 0> = { loopback: 0, private: 0, link_local: 0, cgnat: 0, metadata: 0, unspecified: 0, multicast: 0, reserved: 0 }

const WAYS_IN: Record<WayIn, 0> = { forward: 0, connect: 0, route: 0, api: 0 }

const REFUSALS: Record<RefusalReason, 0> = { max_connections: 0, per_address: 0, fd_exhausted: 0 }

/** Every reason a listener refuses a new connection (connections_refused_total). */
export const CONNECTION_REFUSAL_LABELS = Object.keys(REFUSALS) as RefusalReason[]
/** The listeners that accept connections of their own. */
export const ACCEPTING_LISTENERS = ['proxy', 'admin'] as const

/** The console's refusals anyone who reaches the admin listener can cause, signed in or not. */
export const CONSOLE_REFUSALS = ['cross_origin_refused', 'wrong_token', 'throttled'] as const
/** One of CONSOLE_REFUSALS. */
export type ConsoleRefusal = (typeof CONSOLE_REFUSALS)[number]
/** Every caller-refusal reason label. */
export const AUTH_FAILURE_LABELS = Object.keys(AUTH) as AuthFailure[]
/** Every egress-refusal reason label. */
export const EGRESS_REASON_LABELS = Object.keys(EGRESS) as EgressReason[]
/** Where the process can run out of file descriptors (fd_exhausted_total{where}). */
export const FD_EXHAUSTION_SITES = ['accept', 'request'] as const
/** Why a sampled span was never exported (trace_spans_dropped_total{reason}): 4096 already waiting, or its export failed. */
export const SPAN_DROP_REASONS = ['queue_full', 'export_failed'] as const
/** One of SPAN_DROP_REASONS. */
export type SpanDropReason = (typeof SPAN_DROP_REASONS)[number]
/** Every CONNECT tunnel kind. */
export const TUNNEL_KINDS = ['intercepted', 'pass_through', 'refused'] as const

/**
 * The per-endpoint counterpart: `zero(counter, endpoints)` creates at 0 the series `labelsOf`
 * gives for each endpoint it has not seen yet (the configured endpoints, known from the snapshot
 * in force at each scrape: a reload that adds one adds its series). An endpoint a reload removes
 * is forgotten (config-series.ts removes its series): added back, it starts at 0 again.
 */
export function zeroSeriesPerEndpoint<L extends string>(labelsOf: (endpoint: string) => Record<L, string>[]): (counter: Counter<L>, endpoints: ReadonlySet<string>) => void {
  const done = new Set<string>()
  return (counter, endpoints) => {
    for (const endpoint of done) if (!endpoints.has(endpoint)) done.delete(endpoint)
    for (const endpoint of endpoints) {
      if (done.has(endpoint)) continue
      done.add(endpoint)
      for (const labels of labelsOf(endpoint)) counter.inc(labels as Partial<Record<L, string | number>>, 0)
    }
  }
}
/** Every way in listen.waysIn can leave out (way_in_refusals_total). */
export const WAY_IN_LABELS = Object.keys(WAYS_IN) as WayIn[]
