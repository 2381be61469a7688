/**
 * The dance's pages when the store fails on the way: a 503 "Authorization failed" page that tells
 * the user what the failure left of the dance (still usable: try again; perhaps used; used up),
 * never the store's address or error, which the access line keeps with the reason.
 */
import { GatewayError } from '../errors.js'
import { PageError } from '../proxy/write-error.js'
import { pageOf, type PageText } from './pages.js'

/**
 * `step`'s result; a store failure in it is the 503 page saying `text`, its reason and message
 * kept for the access line (and so counted as any store failure of the gateway API).
 */
export async function storeStep<T>(step: () => Promise<T>, text: PageText, headers: Readonly<Record<string, string>> = {}): Promise<T> {
  try {
    return await step()
  } catch (err) {
    throw err instanceof GatewayError && err.reason === 'store_unavailable' && !(err instanceof PageError) ? pageOf(err, text, headers) : err
  }
}

/** The store failed taking the link: most likely untouched (a take whose answer was lost may have happened). */
export const TAKE_RETRY: PageText = {
  why: 'The gateway\'s storage is not answering right now, so the authorization could not start yet.',
  next: 'Open the authorization link again shortly. If it then says the link is already used, ask for a new authorization link.',
}

/** The link was taken, then the store did not keep the started dance: nothing of it can be completed. */
export const LINK_USED_UP: PageText = {
  why: 'The gateway\'s storage stopped answering while the authorization was starting, so it could not start, and this link is now used up.',
  next: 'Ask for a new authorization link shortly.',
}

/** The store failed reading or taking the dance: most likely untouched (a take whose answer was lost may have happened). */
export const CLAIM_RETRY: PageText = {
  why: 'The gateway\'s storage is not answering right now, so this authorization could not be finished yet.',
  next: 'Reload this page shortly to finish it. If it then says the authorization is unknown or already completed, ask for a new authorization link.',
}

/** The provider issued the access token, the store did not confirm keeping it: the dance is used up either way. */
export const notKept = (provider: string): PageText => ({
  why: `${provider} approved the access, but the gateway's storage did not confirm saving it, so it may not have been kept.`,
  next: 'This authorization is used up. If you are asked to authorize again, ask for a new authorization link shortly.',
})
