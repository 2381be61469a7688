/**
 * The host and port an endpoint's pool may dial, from its configured URL alone. The
 * connector checks every dial against it: a second line of defence behind the
 * UpstreamTarget, so no request-supplied string can ever steer the endpoint's client
 * certificate to another origin.
 */

import { TENANT_LABEL } from '../config/index.js'

const TENANT_SLOT = 'tenant-slot-0'
/** The tenant rule's pattern without its anchors: a tenant fills exactly one label of a host. */
const DNS_LABEL = TENANT_LABEL.source.slice(1, -1)

/**
 * A predicate over (hostname as undici passes it, port) for the configured URLs a pool may
 * reach: the endpoint URL and the token URLs of the profiles whose dance uses its client
 * bundle (`{tenant}` / `{{tenant}}` = one DNS label; other templates never sit in a host).
 */
export function endpointAuthority(urls: readonly string[]): (hostname: string, port: number) => boolean {
  const origins = urls.map((url) => {
    const parsed = new URL(url.replaceAll('{{tenant}}', TENANT_SLOT).replaceAll('{tenant}', TENANT_SLOT).replace(/\{\{[^}]*\}\}/g, 'x'))
    const port = Number(parsed.port) || 443
    const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase()
    const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll(TENANT_SLOT, DNS_LABEL)
    return { port, pattern: new RegExp(`^${escaped}$`) }
  })
  return (hostname, p) => {
    const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
    return origins.some((o) => o.port === p && o.pattern.test(host))
  }
}
