/**
 * The host and port an endpoint's pool may dial, from its configured URL alone. The
 * connector checks every dial against it: a second line of defence behind the
 * UpstreamTarget, so no request-supplied string can ever steer the endpoint's client
 * certificate to another origin.
 */

import { TENANT_LABEL, type EndpointConfig, type ProfileConfig } from '../config/index.js'

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

/** Where an endpoint's pools may dial, and which of those origins its `resolve`, `serverName` and `pins` name. */
export interface EndpointDials {
  authority: (host: string, port: number) => boolean
  origin: (host: string, port: number) => boolean
}

/** The URLs behind an endpoint's EndpointDials: what decides where its pools may dial, as data (a pool kept across a reload is one these match). */
export interface EndpointDialUrls {
  authority: readonly string[]
  origin: readonly string[]
}

/** The endpoint URL's origin, plus its profiles' token URLs: all of them may be dialled, those of a tokenUrlsOnEndpointServer profile as its own. */
export function endpointDialUrls(ep: EndpointConfig, profiles: readonly ProfileConfig[]): EndpointDialUrls {
  return { authority: [ep.url, ...profileTokenUrls(ep, profiles, false)], origin: [ep.url, ...profileTokenUrls(ep, profiles, true)] }
}

/** The predicates of `urls` (endpointDialUrls). */
export function endpointDials(urls: EndpointDialUrls): EndpointDials {
  return { authority: endpointAuthority(urls.authority), origin: endpointAuthority(urls.origin) }
}

/**
 * Token URLs the dance may call over this endpoint's client bundle (see dance/provider tokenEndpoint);
 * `onServer`: only those its profile says the endpoint's own server answers (tokenUrlsOnEndpointServer).
 */
function profileTokenUrls(ep: EndpointConfig, profiles: readonly ProfileConfig[], onServer: boolean): string[] {
  return profiles
    .filter((p) => p.endpoint === ep.name || (p.endpoint === undefined && ep.profile === p.name))
    .filter((p) => !onServer || p.tokenUrlsOnEndpointServer)
    .flatMap((p) => [p.requestTokenUrl, p.accessTokenUrl].filter((u): u is string => typeof u === 'string'))
}
