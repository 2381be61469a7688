/**
 * Certificate facts of a compiled snapshot for metrics and logs: validity dates taken when a
 * config is adopted (start, reload) from the certificates the snapshot holds — never the files
 * again, which may have changed since, or belong to a reload that was refused — so a scrape
 * never touches the disk; and each endpoint's (and the interception CA's) degradation
 * evaluated against the clock when asked.
 */
import { X509Certificate } from 'node:crypto'
import type { Logger } from 'pino'
import { formatProblem } from '../errors.js'
import type { Gateway } from '../gateway/index.js'
import { notAfter, notBefore, type Bundle, type InterceptionCaFault, type ValidityReason } from '../tls/index.js'
import type { CertificateKind, CertificateValidity, Metrics } from './metrics.js'

interface EndpointBundle {
  endpoint: string
  tenant?: string
  bundle: Bundle
  systemRoots: boolean
}

function bundlesOf(gateway: Gateway): EndpointBundle[] {
  const out: EndpointBundle[] = []
  for (const e of gateway.endpoints.values()) {
    out.push({ endpoint: e.name, bundle: e.bundle, systemRoots: e.config.tls.systemRoots })
    // Tenant bundles are labelled by endpoint only: a tenant name is not a metric label.
    for (const [tenant, t] of e.tenantUpstreams?.entries() ?? []) out.push({ endpoint: e.name, tenant, bundle: t.bundle, systemRoots: e.config.tenants[tenant]?.systemRoots ?? false })
  }
  return out
}

const validity = (endpoint: string, kind: CertificateKind, cert: X509Certificate): CertificateValidity => ({ endpoint, kind, notBefore: notBefore(cert), notAfter: notAfter(cert) })

/**
 * The server roots (`tls.roots`) as one period: from the first to become valid to the last to
 * expire. Past that end no server can be verified and the endpoint degrades
 * (server_roots_not_valid), so that is the date to warn about; an older root kept beside its
 * successor does not page. With system roots in play no date is known: none.
 */
function serverRoots(endpoint: string, bundle: Bundle, systemRoots: boolean): CertificateValidity[] {
  if (systemRoots || bundle.roots.length === 0) return []
  const from = Math.min(...bundle.roots.map((c) => notBefore(c).getTime()))
  const until = Math.max(...bundle.roots.map((c) => notAfter(c).getTime()))
  return [{ endpoint, kind: 'server_root', notBefore: new Date(from), notAfter: new Date(until) }]
}

/** Remembers which server root each endpoint bundle's latest verified upstream handshake reached; reports `server_root_in_use`. */
export interface ServerRootsInUse {
  /** A new upstream connection (ConnectInfo): its anchor, when it reports one, becomes its bundle's root in use. */
  connected(info: { endpoint: string; tenant?: string | undefined; anchor?: X509Certificate | undefined }): void
  /** Per endpoint bundle of `gateway` with only its own roots: the root in use, or before any handshake reached one of them the last to expire. */
  validities(gateway: Gateway): CertificateValidity[]
}

/**
 * Creates the record. It outlives snapshots: a reload that keeps the root (same certificate)
 * keeps its report, as a fresh start that saw the same handshake would; a root a reload removed
 * is forgotten. Keys are configured endpoint and tenant names, so the record stays bounded.
 */
export function createServerRootsInUse(): ServerRootsInUse {
  const anchors = new Map<string, string>()
  const key = (endpoint: string, tenant: string | undefined): string => `${endpoint}\0${tenant ?? ''}`
  return {
    connected(info) {
      if (info.anchor) anchors.set(key(info.endpoint, info.tenant), info.anchor.fingerprint256)
    },
    validities(gateway) {
      return bundlesOf(gateway).flatMap(({ endpoint, tenant, bundle, systemRoots }) => {
        if (systemRoots || bundle.roots.length === 0) return []
        const fp = anchors.get(key(endpoint, tenant))
        const root = bundle.roots.find((r) => r.fingerprint256 === fp) ?? bundle.roots.reduce((a, b) => (notAfter(b) > notAfter(a) ? b : a))
        return [validity(endpoint, 'server_root_in_use', root)]
      })
    },
  }
}

/** Validity of every bundle certificate in the snapshot (client, intermediate, client root, server roots), the interception CA's and the listeners' own. */
export function certificateValidities(gateway: Gateway): CertificateValidity[] {
  const out: CertificateValidity[] = bundlesOf(gateway).flatMap(({ endpoint, bundle, systemRoots }) => [
    validity(endpoint, 'client', bundle.leaf),
    ...bundle.chain.map((c) => validity(endpoint, 'intermediate', c)),
    ...(bundle.clientRoot ? [validity(endpoint, 'root', bundle.clientRoot)] : []),
    ...serverRoots(endpoint, bundle, systemRoots),
  ])
  // The CA this snapshot mints with, as it was read and checked. It serves every endpoint: an empty endpoint label.
  const ca = gateway.interception
  if (ca) out.push({ endpoint: '', kind: 'interception_ca', notBefore: ca.notBefore, notAfter: ca.notAfter })
  // The certificates callers and scrapers are served: read with the snapshot, a renewal moves them.
  for (const [kind, tls] of [['listener', gateway.listenerTls.proxy], ['admin_listener', gateway.listenerTls.admin]] as const) {
    if (tls) out.push(validity('', kind, new X509Certificate(tls.cert)))
  }
  return out
}

/** Hands the dates of snapshot `g`'s certificates (bundles, interception CA, listeners, the other TLS files) to the expiry gauges, on each adoption. */
export function setSnapshotCertificates(metrics: Pick<Metrics, 'setCertificateValidity' | 'setTlsFileValidity'>, g: Gateway): void {
  metrics.setCertificateValidity(certificateValidities(g))
  metrics.setTlsFileValidity(g.tlsFileDates.validities)
}

/** The snapshot's interception CA outside its validity at `now`, for the log; undefined while it can mint (or there is none). */
export function interceptionDegradation(gateway: Gateway, now = Date.now()): { reason: InterceptionCaFault; msg: string } | undefined {
  const fault = gateway.interception?.degradation(now)
  return fault ? { reason: fault.reason, msg: fault.message } : undefined
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

/** Each endpoint's upstream pools now (its own and its tenants' bundles together). */
export function endpointPools(gateway: Gateway): { endpoint: string; connected: number; waiting: number }[] {
  return [...gateway.endpoints.values()].map((e) => {
    const total = { endpoint: e.name, connected: 0, waiting: 0 }
    for (const u of [e.upstream, ...[...e.tenantUpstreams.values()].map((t) => t.upstream)]) {
      const pool = u.pool()
      total.connected += pool.connected
      total.waiting += pool.waiting
    }
    return total
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

/** Warns, at adoption, of the TLS files snapshot `g` serves degraded, in check's words (endpoints and the interception CA: degradation-log.ts). */
export function logTlsFileDegradations(logger: Logger, g: Gateway): void {
  for (const p of g.tlsFileDates.problems) logger.warn({ key: p.key, file: p.file, problem: formatProblem(p) }, 'TLS file degraded: a certificate outside its validity; only what this file serves is affected (handshakes with that listener, caller certificates, span export or the store), the rest serves')
}
