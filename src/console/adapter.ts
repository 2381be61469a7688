/**
 * The console's only coupling to the OAuth dance (src/dance, through its index): the same
 * profile test `test-auth` runs, the token keys, and one-time authorize links.
 */
import { canonicalTenant } from '../config/index.js'
import type { Gateway } from '../gateway/index.js'
import type { Runtime } from '../runtime/index.js'
import type { Store } from '../store/index.js'
import { ANONYMOUS_TOKEN_PREFIX, checkTenant, DANCE_TTL_MS, KNOWN_TOKEN_PREFIX, linkUrl, parseTokenKey, refuseCredentialInProfileUrls, revokedIds, revokeKeys, storedTokenKey, testProfile, tokenRepoFor, userSpaceNamed, visibleText, type ProfileTestResult } from '../dance/index.js'

export type { ProfileTestResult }

/** The profile test of `test-auth` and POST /gateway/oauth1/<p>/test. */
export function runProfileTest(gateway: Gateway, profile: string, tenant: string | undefined, origin: string | undefined): Promise<ProfileTestResult> {
  return testProfile(gateway, profile, tenant, origin)
}

/** A user's token as the console lists it: whose and when, never the token. */
export interface TokenHolder {
  /** The user space (callers.apps[].userSpace; "" for callers without an app); absent for an earlier version's token. */
  space?: string
  profile: string
  tenant?: string
  user: string
  /** `user` as the page shows it (the link page's rule): a bidi override or invisible mark written as its code point, so no id renders as another. */
  shown: string
  /** An anonymous user's token (expires within callers.anonymousTtl); absent for known users. */
  anonymous?: true
  obtainedAt?: number
}

/** Every stored per-user token's owner and time; the sealed fields are never opened. */
export async function listTokenHolders(store: Store | undefined): Promise<TokenHolder[]> {
  if (!store) return []
  const out: TokenHolder[] = []
  for (const prefix of [KNOWN_TOKEN_PREFIX, ANONYMOUS_TOKEN_PREFIX]) {
    for (const key of await store.keys(prefix)) {
      const owner = parseTokenKey(key)
      if (owner === undefined) continue
      const text = await store.get(key)
      let obtainedAt: number | undefined
      try {
        const v = JSON.parse(text ?? '{}') as { obtainedAt?: unknown }
        if (typeof v.obtainedAt === 'number') obtainedAt = v.obtainedAt
      } catch {
        // An unreadable record still has an owner worth listing (and revoking).
      }
      const { space, profile, tenant, user, anonymous } = owner
      out.push({ ...(space !== undefined ? { space } : {}), profile, ...(tenant !== undefined ? { tenant } : {}), user, shown: visibleText(user), ...(anonymous ? { anonymous } : {}), ...(obtainedAt !== undefined ? { obtainedAt } : {}) })
    }
  }
  const byOwner = (a: TokenHolder, b: TokenHolder): number =>
    a.user.localeCompare(b.user) || (a.space ?? '\uffff').localeCompare(b.space ?? '\uffff') || a.profile.localeCompare(b.profile) || Number(a.anonymous ?? false) - Number(b.anonymous ?? false)
  return out.sort(byOwner)
}

/**
 * Removes a user's token in its space, or an earlier version's (no space), and the one under the
 * id's Latin-1 reading, which the user's next call would take over (revokedIds); false when there
 * was none. No seal key needed: nothing is opened.
 */
export async function revokeToken(store: Store | undefined, owner: Omit<TokenHolder, 'obtainedAt' | 'shown'>): Promise<boolean> {
  if (!store) return false
  const keyUnder = (tenant: string | undefined, user: string): string => storedTokenKey({ space: owner.space, profile: owner.profile, ...(tenant !== undefined ? { tenant } : {}), user, anonymous: owner.anonymous === true })
  // The tenant as every path keys it (tenant-label.ts), and as given: an earlier version's console link stored it so.
  const tenants = owner.tenant === undefined ? [undefined] : [...new Set([canonicalTenant(owner.tenant) ?? owner.tenant, owner.tenant])]
  return revokeKeys(store, tenants.flatMap((t) => revokedIds(owner.user).map((user) => keyUnder(t, user))))
}

/**
 * A one-time authorize link for a (known, not anonymous) user of app `app`'s user space ("": callers
 * without an app); undefined without a token store. An unknown app is a 400.
 */
export async function createAuthorizeLink(gateway: Gateway, runtime: Pick<Runtime, 'store'>, owner: { app: string; profile: string; tenant?: string; user: string }, origin: string | undefined): Promise<string | undefined> {
  const space = userSpaceNamed(gateway, owner.app)
  const profile = gateway.profiles.get(owner.profile)
  const repo = tokenRepoFor(runtime, gateway)
  if (!profile || !repo) return undefined
  // The dance's own rule: a tenant the profile uses, in lower case, as the proxy will look it up.
  const tenant = checkTenant(gateway, profile, owner.tenant)
  // As the API's start: no link for a user whose click would be refused as holding a gateway credential.
  refuseCredentialInProfileUrls(profile, { ...(tenant !== undefined ? { tenant } : {}), user: owner.user })
  const id = await repo.createLink({ space, profile: owner.profile, ...(tenant !== undefined ? { tenant } : {}), user: owner.user, anonymous: false }, DANCE_TTL_MS, undefined, origin)
  return linkUrl(gateway, profile, id, origin, tenant)
}
