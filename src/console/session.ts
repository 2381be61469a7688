/**
 * Console sessions, valid on every replica that shares the store: the cookie is
 * `<id>.<expiry>.<who>.<mac>`, an HMAC-SHA256 under the store's session key (session-key.ts)
 * bound to the admin token, so any replica verifies it, a restart keeps it, and changing the
 * token ends every session. Sign-out writes the ended id to the store until the session
 * would have expired, so it ends on every replica. The CSRF token is an HMAC of the session
 * id under the same key: nothing more to store, nothing to guess.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { sessionKey, type SessionState } from './session-key.js'
import { sameSecret } from '../api/same-secret.js'
import { GatewayError } from '../errors.js'

export type { SessionState } from './session-key.js'

/** Who is signed in. */
export interface Session {
  readonly id: string
  readonly expires: number
  /** "token" (admin token) or "cert:<subject>" (admin client certificate). */
  readonly who: string
}

/** Issues and checks session cookies and CSRF tokens; each may answer 503 while the store is away. */
export interface Sessions {
  issue(who: string, token: string): Promise<{ session: Session; cookie: string }>
  verify(cookie: string | undefined, token: string): Promise<Session | undefined>
  /** The CSRF token of a session (or of anything with an id no session has, e.g. `cert.<fingerprint>`). */
  csrf(session: Pick<Session, 'id'>, token: string): Promise<string>
  checkCsrf(session: Pick<Session, 'id'>, token: string, presented: string | undefined): Promise<boolean>
  /** Ends the session on every replica (resolves once the store holds it). */
  end(session: Session): Promise<void>
}

/** Options: where the shared state is (read at each use: a reload may add seal keys), and the clock. */
export interface SessionsOptions {
  state(): SessionState
  now?: () => number
}

export const SESSION_COOKIE = 'mtls_gateway_console'
export const SESSION_TTL_MS = 8 * 3600_000
const ENDED = 'console:session:ended:'

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

/** Sessions over the shared store. */
export function createSessions(o: SessionsOptions): Sessions {
  const now = o.now ?? Date.now
  // The console is what operators reach for during a store outage: the key this process last
  // read keeps signing and verifying while the store does not answer (it changes only with the
  // store's contents), and a sign-out is remembered here as well as in the store.
  let lastKey: Buffer | undefined
  const endedHere = new Map<string, number>()
  const keyOf = async (): Promise<Buffer> => {
    try {
      lastKey = await sessionKey(o.state())
      return lastKey
    } catch (e) {
      if (lastKey !== undefined && storeOutage(e)) return lastKey
      throw e
    }
  }
  const endedInStore = async (id: string): Promise<boolean> => {
    try {
      return (await o.state().store.get(ENDED + id)) !== undefined
    } catch (e) {
      // Unknown while the store is away: a sign-out on another replica shows again once it answers.
      if (storeOutage(e)) return false
      throw e
    }
  }
  const mac = async (token: string, text: string): Promise<string> => {
    const key = createHmac('sha256', await keyOf()).update(token).digest()
    return createHmac('sha256', key).update(text).digest('base64url')
  }
  return {
    async issue(who, token) {
      const session: Session = { id: b64(randomBytes(18)), expires: now() + SESSION_TTL_MS, who }
      const body = `${session.id}.${session.expires}.${b64(who)}`
      return { session, cookie: `${body}.${await mac(token, body)}` }
    },
    async verify(cookie, token) {
      const parts = cookie?.split('.')
      if (parts?.length !== 4) return undefined
      const [id, exp, who, sig] = parts as [string, string, string, string]
      const expires = Number(exp)
      // An expired cookie costs no store read.
      if (!(expires > now())) return undefined
      if (!sameSecret(sig, await mac(token, `${id}.${exp}.${who}`))) return undefined
      if (endedHere.has(id) || (await endedInStore(id))) return undefined
      return { id, expires, who: Buffer.from(who, 'base64url').toString('utf8') }
    },
    csrf: (session, token) => mac(token, `csrf.${session.id}`),
    async checkCsrf(session, token, presented) {
      return presented !== undefined && sameSecret(presented, await mac(token, `csrf.${session.id}`))
    },
    async end(session) {
      for (const [id, exp] of endedHere) if (exp <= now()) endedHere.delete(id)
      endedHere.set(session.id, session.expires)
      // Kept until the cookie would have expired anyway; the id is random, never a secret.
      await o.state().store.put(ENDED + session.id, '1', Math.max(1, session.expires - now()))
    },
  }
}

/** A store that does not answer (503), as opposed to a fault to pass on. */
function storeOutage(e: unknown): boolean {
  return e instanceof GatewayError && e.reason === 'store_unavailable'
}
