/**
 * A `/gateway/…` path as a route template for span names: fixed segments kept, everything a
 * caller chose (profile, user, link ids) replaced, so no user name or token reaches a span.
 */
const ACTIONS = new Set(['authorize', 'callback', 'test', 'tokens', 'link'])

/** `/gateway/oauth1/partner/tokens/alice` → `/gateway/oauth1/{profile}/tokens/{user}`. */
export function apiRoute(path: string): string {
  const parts = path.split('?')[0]?.split('/') ?? []
  if (parts[1] !== 'gateway') return '/gateway/{unknown}'
  if (parts[2] === 'token' || parts[2] === 'jwks.json') return parts.length === 3 ? `/gateway/${parts[2]}` : '/gateway/{unknown}'
  if (parts[2] !== 'oauth1') return '/gateway/{unknown}'
  if (parts[3] === 'callback' && parts.length === 4) return '/gateway/oauth1/callback'
  const action = parts[4]
  if (action === undefined) return '/gateway/oauth1/{profile}'
  if (!ACTIONS.has(action)) return '/gateway/oauth1/{profile}/{unknown}'
  return parts.length > 5 ? `/gateway/oauth1/{profile}/${action}/{user}` : `/gateway/oauth1/{profile}/${action}`
}
