/**
 * The console's only coupling to the OAuth dance and profile test (today under api/):
 * the same test `test-auth` runs, the token repository, and the authorize-link URL. When
 * the dance moves to its own folder, this file is the one to re-point.
 */
import type { Gateway } from '../gateway/index.js'
import type { Services } from '../services/index.js'
import { testProfile, type ProfileTestResult } from '../api/oauth1-test.js'
import { createTokenRepo, tokenKey, type OAuth1TokenRepo } from '../api/oauth1-tokens.js'
import { DANCE_TTL_MS } from '../api/oauth1-authorize.js'
import { linkUrl } from '../api/oauth1-urls.js'

export type { ProfileTestResult }

/** The profile test of `test-auth` and POST /gateway/oauth1/<p>/test. */
export function runProfileTest(gateway: Gateway, profile: string, tenant: string | undefined, origin: string | undefined): Promise<ProfileTestResult> {
  return testProfile(gateway, profile, tenant, origin)
}

/** A user's token as the console lists it: who and when, never the token. */
export interface TokenHolder {
  profile: string
  tenant?: string
  user: string
  obtainedAt?: number
}

const TOKEN_PREFIX = 'oauth1:token:'

function repoOf(services: Services | undefined, anonymousTtlMs: number): OAuth1TokenRepo | undefined {
  if (!services?.store || !services.sealer) return undefined
  return createTokenRepo({ store: services.store, ephemeral: services.ephemeral, sealer: services.sealer, anonymousTtlMs: () => anonymousTtlMs })
}

/** Every stored per-user token's owner and time; the sealed fields are never opened. */
export async function listTokenHolders(services: Services | undefined): Promise<TokenHolder[]> {
  const store = services?.store
  if (!store) return []
  const out: TokenHolder[] = []
  for (const key of await store.keys(TOKEN_PREFIX)) {
    const [user = '', profile = '', tenant = ''] = key.slice(TOKEN_PREFIX.length).split(':').map(decodeURIComponent)
    if (tokenKey({ profile, user, ...(tenant !== '' ? { tenant } : {}) }) !== key) continue
    const text = await store.get(key)
    let obtainedAt: number | undefined
    try {
      const v = JSON.parse(text ?? '{}') as { obtainedAt?: unknown }
      if (typeof v.obtainedAt === 'number') obtainedAt = v.obtainedAt
    } catch {
      // An unreadable record still has an owner worth listing (and revoking).
    }
    out.push({ profile, ...(tenant !== '' ? { tenant } : {}), user, ...(obtainedAt !== undefined ? { obtainedAt } : {}) })
  }
  return out.sort((a, b) => a.user.localeCompare(b.user) || a.profile.localeCompare(b.profile))
}

/** Removes a user's token; false when there was none. */
export async function revokeToken(services: Services | undefined, owner: Omit<TokenHolder, 'obtainedAt'>): Promise<boolean> {
  const repo = repoOf(services, 0)
  if (!repo) return false
  return repo.revoke({ profile: owner.profile, ...(owner.tenant !== undefined ? { tenant: owner.tenant } : {}), user: owner.user })
}

/** A one-time authorize link for a (known, not anonymous) user; undefined without a token store. */
export async function createAuthorizeLink(gateway: Gateway, services: Services | undefined, owner: Omit<TokenHolder, 'obtainedAt'>, origin: string | undefined): Promise<string | undefined> {
  const profile = gateway.profiles.get(owner.profile)
  const repo = repoOf(services, gateway.config.callers.anonymousTtlMs)
  if (!profile || !repo) return undefined
  const id = await repo.createLink({ profile: owner.profile, ...(owner.tenant !== undefined ? { tenant: owner.tenant } : {}), user: owner.user, anonymous: false }, DANCE_TTL_MS)
  return linkUrl(gateway, profile, id, origin)
}
