/**
 * Certificate facts of a compiled snapshot for metrics and logs: expiry dates computed when a
 * config is adopted (start, reload) from the bundles the snapshot holds (a scrape never touches
 * the disk), and each endpoint's degradation evaluated against the clock when asked.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Gateway } from '../gateway/index.js'
import { notAfter, type Bundle, type ValidityReason } from '../tls/index.js'
import type { CertificateExpiry } from './metrics.js'

function bundlesOf(gateway: Gateway): { endpoint: string; bundle: Bundle }[] {
  const out: { endpoint: string; bundle: Bundle }[] = []
  for (const e of gateway.endpoints.values()) {
    out.push({ endpoint: e.name, bundle: e.bundle })
    // Tenant bundles are labelled by endpoint only: a tenant name is not a metric label.
    for (const t of e.tenantUpstreams?.values() ?? []) out.push({ endpoint: e.name, bundle: t.bundle })
  }
  return out
}

/** Client, intermediate and client-root expiry of every bundle in the snapshot, the interception CA's and the listeners' own. */
export function certificateExpiries(gateway: Gateway): CertificateExpiry[] {
  const out: CertificateExpiry[] = bundlesOf(gateway).flatMap(({ endpoint, bundle }) => [
    { endpoint, kind: 'client' as const, notAfter: notAfter(bundle.leaf) },
    ...bundle.chain.map((c) => ({ endpoint, kind: 'intermediate' as const, notAfter: notAfter(c) })),
    ...(bundle.clientRoot ? [{ endpoint, kind: 'root' as const, notAfter: notAfter(bundle.clientRoot) }] : []),
  ])
  const ca = gateway.config.interception?.caCert
  if (ca) {
    try {
      // Read once per config load, not per scrape. The CA serves every endpoint: an empty endpoint label.
      out.push({ endpoint: '', kind: 'interception_ca', notAfter: notAfter(new X509Certificate(readFileSync(ca))) })
    } catch {
      // Unreadable now: the minter reports it where it is used.
    }
  }
  // The certificates callers and scrapers are served: read with the snapshot, a renewal moves them.
  for (const [kind, tls] of [['listener', gateway.listenerTls.proxy], ['admin_listener', gateway.listenerTls.admin]] as const) {
    if (tls) out.push({ endpoint: '', kind, notAfter: notAfter(new X509Certificate(tls.cert)) })
  }
  return out
}

/** An endpoint's time-based state: the reasons it is degraded now (empty: serving). */
export interface EndpointDegradation {
  endpoint: string
  reasons: readonly ValidityReason[]
}

/** Every endpoint of the snapshot with the reasons its bundles (its own and its tenants') are unusable at `now`. */
export function endpointDegradation(gateway: Gateway, now = Date.now()): EndpointDegradation[] {
  return [...gateway.endpoints.values()].map((e) => {
    const upstreams = [e.upstream, ...[...e.tenantUpstreams.values()].map((t) => t.upstream)]
    const reasons = new Set(upstreams.flatMap((u) => u.faults(now).map((f) => f.reason)))
    return { endpoint: e.name, reasons: [...reasons] }
  })
}

/** The refusal of each degraded bundle (its own, its tenants') of the snapshot at `now`, for the log. */
export function degradationMessages(gateway: Gateway, now = Date.now()): { endpoint: string; reason: string; msg: string }[] {
  return [...gateway.endpoints.values()].flatMap((e) =>
    [e.upstream, ...[...e.tenantUpstreams.values()].map((t) => t.upstream)].flatMap((u) => {
      const refusal = u.refusal(now)
      return refusal ? [{ endpoint: e.name, reason: refusal.reason, msg: refusal.message }] : []
    }),
  )
}
