/**
 * A dance's records used up without being opened: a snapshot with no sealer (a reload removed
 * every per-user profile and the seal keys with them) can still take a pending request or a
 * link, so nothing of it is left to complete once its profile is back.
 */
import type { Store } from '../store/index.js'
import { linkKey, pendingKey } from './token-keys.js'
import { withSpace, type LinkRecord, type PendingRequest } from './tokens.js'

/** What a pending request says without its sealed fields: whose dance it is, and which browser's. */
export type PendingBinding = Pick<PendingRequest, 'profile'> & Partial<Pick<PendingRequest, 'browser'>>

/** True when a pending request is stored for `requestToken`. */
export const hasPendingUnopened = async (store: Store, requestToken: string): Promise<boolean> => (await store.get(pendingKey(requestToken))) !== undefined

/** Takes (one shot) the pending request of `requestToken`, its secrets left sealed. */
export async function takePendingUnopened(store: Store, requestToken: string): Promise<PendingBinding | undefined> {
  const text = await store.take(pendingKey(requestToken))
  const r = text === undefined ? undefined : withSpace(JSON.parse(text) as Partial<PendingRequest>)
  return typeof r?.profile === 'string' ? { profile: r.profile, ...(r.browser ? { browser: r.browser } : {}) } : undefined
}

/** Takes (one shot) link `id` when it is `profile`'s, its secrets left sealed; true when this call took it. */
export async function takeLinkUnopened(store: Store, id: string, profile: string): Promise<boolean> {
  const key = linkKey(id)
  const text = await store.get(key)
  // Another profile's link named under this one's URL is not this page's to use up.
  if (text === undefined || withSpace(JSON.parse(text) as Partial<LinkRecord>)?.profile !== profile) return false
  return (await store.take(key)) !== undefined
}
