/**
 * What the request path counts besides the request itself: callers refused, OAuth 1.0a
 * signatures made, CONNECT tunnels, interception leaves minted, egress refusals, requests on a
 * way in listen.waysIn leaves out, records a read sealed again under the active seal key. The closed
 * label sets start at 0, so a rate over them exists before the first event.
 */
import { Counter, Histogram, type Registry } from 'prom-client'
import { AUTH_FAILURE_LABELS, EGRESS_REASON_LABELS, TUNNEL_KINDS, WAY_IN_LABELS } from './label-sets.js'
import type { Metrics } from './metrics.js'
import type { WayIn } from '../config/index.js'
import { RESEALED_KINDS } from '../store/index.js'
import { createPendingCounts } from './pending-counts.js'
import type { DropRemoved } from './config-series.js'

/** Registers the request-path event families on `registers` and returns their recorders; `dropRemoved` removes a removed profile's signature series at each read. */
export function createRequestPathMetrics(registers: Registry[], dropRemoved: DropRemoved): Pick<Metrics, 'callerAuthFailure' | 'oauthSignature' | 'egressRefusal' | 'tunnel' | 'leafMinted' | 'wayInRefusal' | 'recordResealed'> {
  // Per-request counts are plain numbers added to prom-client at read time (pending-counts.ts).
  const pendingSignatures = createPendingCounts<'profile' | 'method'>()
  const callerAuth = new Counter({ name: 'mtls_gateway_caller_auth_failures_total', help: 'Callers refused, by reason.', labelNames: ['reason'] as const, registers })
  new Counter({ name: 'mtls_gateway_oauth_signatures_total', help: 'OAuth 1.0a signatures made, by profile and signature method.', labelNames: ['profile', 'method'] as const, registers, collect() { pendingSignatures.flush(this); dropRemoved(this) } })
  const tunnels = new Counter({ name: 'mtls_gateway_connect_tunnels_total', help: 'CONNECT tunnels, by kind (intercepted, pass_through, refused).', labelNames: ['kind'] as const, registers })
  const mints = new Histogram({ name: 'mtls_gateway_interception_leaf_mint_seconds', help: 'Time to mint an interception leaf certificate (cache misses).', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers })
  const egress = new Counter({ name: 'mtls_gateway_egress_refusals_total', help: 'Upstream destinations refused by the egress policy, by reason.', labelNames: ['reason'] as const, registers })
  for (const r of AUTH_FAILURE_LABELS) callerAuth.labels(r).inc(0)
  for (const r of EGRESS_REASON_LABELS) egress.labels(r).inc(0)
  for (const k of TUNNEL_KINDS) tunnels.labels(k).inc(0)
  const waysIn = new Counter({ name: 'mtls_gateway_way_in_refusals_total', help: 'Requests and CONNECTs refused (403 way_in_disabled) because listen.waysIn leaves their way in out, by way in.', labelNames: ['way'] as const, registers })
  for (const w of WAY_IN_LABELS) waysIn.labels(w).inc(0)
  // Still rising after a rotation: records under the retired key are being read; flat, `store reseal` may end it.
  const resealed = new Counter({ name: 'mtls_gateway_store_records_resealed_total', help: 'Records read under a seal key no longer active (store.activeKey) and sealed again under the active one, by kind.', labelNames: ['kind'] as const, registers })
  for (const k of RESEALED_KINDS) resealed.labels(k).inc(0)
  return {
    callerAuthFailure: (reason) => callerAuth.labels(reason).inc(),
    oauthSignature: (profile, method) => void pendingSignatures.slot(`${profile}\0${method}`, () => ({ profile, method })).n++,
    egressRefusal: (reason) => egress.labels(reason).inc(),
    tunnel: (kind) => tunnels.labels(kind).inc(),
    leafMinted: (ms) => mints.observe(ms / 1000),
    wayInRefusal: (way) => void (WAY_IN_LABELS.includes(way as WayIn) && waysIn.labels(way).inc()),
    recordResealed: (kind) => resealed.labels(kind).inc(),
  }
}
