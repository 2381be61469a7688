/**
 * The gateway's own URLs in the dance: where the provider sends the browser back, and the
 * authorize link a user opens, always on the same origin (the link page's cookie must reach
 * the callback). Browsers reach the gateway by its public name, which only the config knows
 * for sure; the request's Host is the last resort.
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { fillProfileUrl, type DanceScope, type Gateway, type Profile } from '../gateway/index.js'
import { singleHeader } from '../callers/index.js'

/** The callback route every profile shares. */
export const CALLBACK_PATH = '/gateway/oauth1/callback'

const HOST = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/

/**
 * `scheme://host` from a Host header, when it is a plain host[:port] (nothing to inject) that a URL
 * can hold: a port above 65535 or an IPv6 literal that is none (`a:99999`, `[::::]`) passed the
 * pattern, and the link or callback built on it threw, a 500 after the link was already stored.
 */
export function originFrom(host: string, tls: boolean): string | undefined {
  if (!HOST.test(host)) return undefined
  const origin = `${tls ? 'https' : 'http'}://${host}`
  return URL.canParse(origin) ? origin : undefined
}

/** `scheme://host` the request came to. */
export function requestOrigin(req: IncomingMessage): string | undefined {
  const host = singleHeader(req, 'host', 'Host')
  return host === undefined ? undefined : originFrom(host, (req.socket as TLSSocket).encrypted === true)
}

/** The gateway's public base URL: listen.publicUrl, else the profile's callbackUrl, else `origin`. */
export function gatewayBase(gateway: Gateway, profile: Profile, origin: string | undefined): string | undefined {
  const configured = gateway.config.listen.publicUrl
  if (configured !== undefined) return configured
  const callback = profile.config.callbackUrl
  if (callback !== undefined && !callback.includes('{')) {
    const u = new URL(callback)
    if (u.pathname.endsWith(CALLBACK_PATH)) return u.origin + u.pathname.slice(0, -CALLBACK_PATH.length)
  }
  return origin
}

/** The oauth_callback for a request token: profile.callbackUrl, else base + CALLBACK_PATH. */
export function callbackUrlFor(gateway: Gateway, profile: Profile, tenant: string | undefined, origin: string | undefined): string | undefined {
  const configured = fillProfileUrl(profile, 'callbackUrl', tenant !== undefined ? { tenant } : {})?.url
  if (configured !== undefined) return configured
  const base = gatewayBase(gateway, profile, origin)
  return base === undefined ? undefined : base + CALLBACK_PATH
}

/** Path of a profile's authorize route. */
export function authorizePath(profile: Profile): string {
  return `/gateway/oauth1/${encodeURIComponent(profile.name)}/authorize`
}

/**
 * Where a user's browser opens the gateway's pages for an authorization of `tenant`: the
 * origin of its callback URL, because the cookie the link page sets belongs to a host and
 * must come back with the provider's redirect. The path prefix is the callback's (when it
 * ends in CALLBACK_PATH), else gatewayBase's when that is on the callback's origin, else none.
 */
export function browserBase(gateway: Gateway, profile: Profile, tenant: string | undefined, origin: string | undefined): string | undefined {
  const base = gatewayBase(gateway, profile, origin)
  // A {tenant} callbackUrl and a caller that named no tenant: nothing to fill it with.
  if (tenant === undefined && profile.config.callbackUrl?.includes('{') === true) return base
  const callback = callbackUrlFor(gateway, profile, tenant, origin)
  if (callback === undefined) return base
  const u = new URL(callback)
  if (u.pathname.endsWith(CALLBACK_PATH)) return u.origin + u.pathname.slice(0, -CALLBACK_PATH.length)
  return base !== undefined && new URL(base).origin === u.origin ? base : u.origin
}

/** The one-time browser link for `linkId`, on its callback's origin (relative when that is unknown). */
export function linkUrl(gateway: Gateway, profile: Profile, linkId: string, origin: string | undefined, tenant?: string): string {
  return `${browserBase(gateway, profile, tenant, origin) ?? ''}${authorizePath(profile)}?link=${encodeURIComponent(linkId)}`
}

/**
 * The provider's user-authorization URL for a request token (§2.2), filled for the user. An
 * OAuth Core 1.0 provider (legacyOAuth10) learns the callback here (Core 1.0 §6.2.1), not from
 * the request-token request.
 */
export function providerAuthorizeUrl(profile: Profile, scope: DanceScope, requestToken: string, callback: string): string {
  const u = new URL(fillProfileUrl(profile, 'authorizeUrl', scope)?.url as string)
  const added = `oauth_token=${encodeURIComponent(requestToken)}${profile.config.legacyOAuth10 ? `&oauth_callback=${encodeURIComponent(callback)}` : ''}`
  // Appended, not searchParams.set: that would re-serialise the template's own query.
  u.search = `${u.search === '' ? '' : `${u.search}&`}${added}`
  return u.href
}
