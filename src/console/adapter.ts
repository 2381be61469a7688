/**
 * The console's only coupling to the OAuth dance (src/dance, through its index): the same
 * profile test `test-auth` runs, the token keys, and one-time authorize links.
 */
import type { Gateway } from '../gateway/index.js'
import type { Runtime } from '../runtime/index.js'
import type { Store } from '../store/index.js'
import { ANONYMOUS_TOKEN_PREFIX, DANCE_TTL_MS, KNOWN_TOKEN_PREFIX, linkUrl, testProfile, tokenKey, tokenRepoFor, type ProfileTestResult } from '../dance/index.js'

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
  /** An anonymous user's token (expires within callers.anonymousTtl); absent for known users. */
  anonymous?: true
  obtainedAt?: number
}

/** Every stored per-user token's owner and time; the sealed fields are never opened. */
export async function listTokenHolders(store: Store | undefined): Promise<TokenHolder[]> {
  if (!store) return []
  const out: TokenHolder[] = []
  for (const [prefix, anonymous] of [[KNOWN_TOKEN_PREFIX, false], [ANONYMOUS_TOKEN_PREFIX, true]] as const) {
    for (const key of await store.keys(prefix)) {
      const [user = '', profile = '', tenant = ''] = key.slice(prefix.length).split(':').map(decodeURIComponent)
      if (tokenKey({ profile, user, ...(tenant !== '' ? { tenant } : {}), anonymous }) !== key) continue
      const text = await store.get(key)
      let obtainedAt: number | undefined
      try {
        const v = JSON.parse(text ?? '{}') as { obtainedAt?: unknown }
        if (typeof v.obtainedAt === 'number') obtainedAt = v.obtainedAt
      } catch {
        // An unreadable record still has an owner worth listing (and revoking).
      }
      out.push({ profile, ...(tenant !== '' ? { tenant } : {}), user, ...(anonymous ? { anonymous } : {}), ...(obtainedAt !== undefined ? { obtainedAt } : {}) })
    }
  }
  return out.sort((a, b) => a.user.localeCompare(b.user) || a.profile.localeCompare(b.profile) || Number(a.anonymous ?? false) - Number(b.anonymous ?? false))
}

/** Removes a user's token (no seal key needed: nothing is opened); false when there was none. */
export async function revokeToken(store: Store | undefined, owner: Omit<TokenHolder, 'obtainedAt'>): Promise<boolean> {
  if (!store) return false
  return store.delete(tokenKey({ profile: owner.profile, ...(owner.tenant !== undefined ? { tenant: owner.tenant } : {}), user: owner.user, anonymous: owner.anonymous === true }))
}

/** A one-time authorize link for a (known, not anonymous) user; undefined without a token store. */
export async function createAuthorizeLink(gateway: Gateway, runtime: Pick<Runtime, 'store'>, owner: Omit<TokenHolder, 'obtainedAt'>, origin: string | undefined): Promise<string | undefined> {
  const profile = gateway.profiles.get(owner.profile)
  const repo = tokenRepoFor(runtime, gateway)
  if (!profile || !repo) return undefined
  const id = await repo.createLink({ profile: owner.profile, ...(owner.tenant !== undefined ? { tenant: owner.tenant } : {}), user: owner.user, anonymous: false }, DANCE_TTL_MS)
  return linkUrl(gateway, profile, id, origin, owner.tenant)
}
