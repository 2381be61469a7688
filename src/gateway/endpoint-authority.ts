/**
 * The host and port an endpoint's pool may dial, from its configured URL alone. The
 * connector checks every dial against it: a second line of defence behind the
 * UpstreamTarget, so no request-supplied string can ever steer the endpoint's client
 * certificate to another origin.
 */

const TENANT_SLOT = 'tenant-slot-0'
const DNS_LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'

/** A predicate over (hostname as undici passes it, port) for the endpoint URL (`{tenant}` = one DNS label). */
export function endpointAuthority(url: string): (hostname: string, port: number) => boolean {
  const parsed = new URL(url.replaceAll('{tenant}', TENANT_SLOT))
  const port = Number(parsed.port) || 443
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll(TENANT_SLOT, DNS_LABEL)
  const pattern = new RegExp(`^${escaped}$`)
  return (hostname, p) => p === port && pattern.test(hostname.replace(/^\[|\]$/g, '').toLowerCase())
}
