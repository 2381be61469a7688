/**
 * The Endpoints page's data: one row per endpoint and per tenant bundle, from the bundles
 * the snapshot loaded (what `check` inspects), each bundle's faults (what `/metrics` exports
 * as endpoint_degraded), the recent rates, and the last handshake. Certificates only: never
 * a key.
 */
import type { X509Certificate } from 'node:crypto'
import type { Gateway, Upstream } from '../gateway/index.js'
import type { WayIn } from '../config/index.js'
import type { EndpointHandshake, HandshakeFacts } from '../ops/index.js'
import { daysLeftText, notAfter, oneLine, type Bundle } from '../tls/index.js'
import type { EndpointRates } from './samples.js'

/** Days left below which a certificate is shown as a warning (the chart's alert threshold). */
export const EXPIRY_WARNING_DAYS = 30

/** One certificate of a presented chain. */
export interface CertificateView {
  role: 'client' | 'intermediate' | 'root'
  subject: string
  issuer: string
  notBefore: string
  notAfter: string
  serial: string
  fingerprint256: string
}

/** One row of the Endpoints page. */
export interface EndpointRow {
  endpoint: string
  tenant?: string
  url: string
  /** The connection test must be told the tenant (`{tenant}` in the URL and no tenant bundle named on this row). */
  asksTenant: boolean
  wayIn: string
  subject: string
  issuer: string
  chain: 'ok'
  notAfter: string
  daysLeft: number
  /** What `check` prints: whole days left, or how long ago it expired. */
  daysLeftText: string
  expiringSoon: boolean
  pins: number
  degraded: string[]
  rates?: EndpointRates
  handshake: EndpointHandshake
  certificates: CertificateView[]
}

function view(role: CertificateView['role'], c: X509Certificate): CertificateView {
  return { role, subject: oneLine(c.subject), issuer: oneLine(c.issuer), notBefore: new Date(c.validFrom).toISOString(), notAfter: notAfter(c).toISOString(), serial: c.serialNumber, fingerprint256: c.fingerprint256 }
}

/** How callers reach an endpoint on the ways in listen.waysIn serves (route mode, the forward proxy, CONNECT). */
export function waysInText(name: string, host: string, waysIn: readonly WayIn[]): string {
  const proxied = [waysIn.includes('forward') ? 'proxy' : undefined, waysIn.includes('connect') ? 'CONNECT' : undefined].filter((w) => w !== undefined)
  const ways = [waysIn.includes('route') ? `/proxy/${name}/` : undefined, proxied.length > 0 ? `${proxied.join(' or ')} to ${host}` : undefined].filter((w) => w !== undefined)
  return ways.length > 0 ? ways.join(' · ') : 'none (listen.waysIn serves no proxied way in)'
}

/** Every row, endpoint by endpoint, tenants after their endpoint; degradation per bundle, as /metrics derives it. */
export function endpointRows(gateway: Gateway, rates: Record<string, EndpointRates>, handshakes: HandshakeFacts, now = Date.now()): EndpointRow[] {
  const rows: EndpointRow[] = []
  for (const e of gateway.endpoints.values()) {
    const host = new URL(e.url.replace('{tenant}', 'tenant')).host
    const wayIn = waysInText(e.name, host, gateway.config.listen.waysIn)
    const bundles: [string | undefined, { bundle: Bundle; upstream: Upstream }][] = [[undefined, e], ...e.tenantUpstreams]
    for (const [tenant, { bundle: b, upstream }] of bundles) {
      const end = notAfter(b.leaf)
      const daysLeft = Math.floor((end.getTime() - now) / 86_400_000)
      rows.push({
        endpoint: e.name,
        ...(tenant !== undefined ? { tenant } : {}),
        url: e.url,
        asksTenant: tenant === undefined && e.url.includes('{tenant}'),
        wayIn,
        subject: oneLine(b.leaf.subject),
        issuer: oneLine(b.leaf.issuer),
        chain: 'ok',
        notAfter: end.toISOString(),
        daysLeft,
        daysLeftText: daysLeftText(end.getTime(), now),
        expiringSoon: daysLeft < EXPIRY_WARNING_DAYS,
        pins: ((tenant !== undefined ? e.config.tenants[tenant] : undefined) ?? e.config.tls).pins.length,
        degraded: [...new Set(upstream.faults(now).map((f) => f.reason))],
        ...(rates[e.name] ? { rates: rates[e.name] as EndpointRates } : {}),
        handshake: handshakes[e.name] ?? {},
        certificates: [view('client', b.leaf), ...b.chain.map((c) => view('intermediate', c)), ...(b.clientRoot ? [view('root', b.clientRoot)] : [])],
      })
    }
  }
  return rows
}
