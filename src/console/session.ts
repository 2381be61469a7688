/**
 * Console sessions without server-side state: the cookie is `<id>.<expiry>.<who>.<mac>`,
 * an HMAC-SHA256 under a key drawn at start and bound to the admin token, so changing the
 * token (and a restart) ends every session. Logout remembers the ended ids until they
 * expire. The CSRF token is an HMAC of the session id: nothing to store, nothing to guess.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** Who is signed in. */
export interface Session {
  readonly id: string
  readonly expires: number
  /** "token" (admin token) or "cert:<subject>" (admin client certificate). */
  readonly who: string
}

/** Issues and checks session cookies and CSRF tokens. */
export interface Sessions {
  issue(who: string, token: string): { session: Session; cookie: string }
  verify(cookie: string | undefined, token: string): Session | undefined
  /** The CSRF token of a session (or of anything with an id no session has, e.g. `cert.<fingerprint>`). */
  csrf(session: Pick<Session, 'id'>, token: string): string
  checkCsrf(session: Pick<Session, 'id'>, token: string, presented: string | undefined): boolean
  end(session: Session): void
}

export const SESSION_COOKIE = 'mtls_gateway_console'
export const SESSION_TTL_MS = 8 * 3600_000

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

/** True when two strings are equal, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest()
  const db = createHash('sha256').update(b).digest()
  return timingSafeEqual(da, db)
}

/** Sessions under a fresh random key (one process serves the admin listener). */
export function createSessions(now: () => number = Date.now): Sessions {
  const processKey = randomBytes(32)
  const ended = new Map<string, number>()
  const mac = (token: string, text: string): string => {
    const key = createHmac('sha256', processKey).update(token).digest()
    return createHmac('sha256', key).update(text).digest('base64url')
  }
  const forget = (): void => {
    for (const [id, exp] of ended) if (exp < now()) ended.delete(id)
  }
  return {
    issue(who, token) {
      const session: Session = { id: b64(randomBytes(18)), expires: now() + SESSION_TTL_MS, who }
      const body = `${session.id}.${session.expires}.${b64(who)}`
      return { session, cookie: `${body}.${mac(token, body)}` }
    },
    verify(cookie, token) {
      const parts = cookie?.split('.')
      if (parts?.length !== 4) return undefined
      const [id, exp, who, sig] = parts as [string, string, string, string]
      const expected = mac(token, `${id}.${exp}.${who}`)
      if (sig.length !== expected.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(expected))) return undefined
      const expires = Number(exp)
      if (!(expires > now()) || ended.has(id)) return undefined
      return { id, expires, who: Buffer.from(who, 'base64url').toString('utf8') }
    },
    csrf: (session, token) => mac(token, `csrf.${session.id}`),
    checkCsrf(session, token, presented) {
      return presented !== undefined && sameSecret(presented, mac(token, `csrf.${session.id}`))
    },
    end(session) {
      forget()
      ended.set(session.id, session.expires)
    },
  }
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}
