/**
 * A call for a user without a token gets 401 with a one-time authorize link. Retried calls get
 * the same link while it is unused, rather than a new store record each (300 calls stored 300
 * links for 10 minutes each: a caller could fill a Redis run with `noeviction`). A link that has
 * been used (taken) is not handed out again; another user, or the same id of another app's user
 * space, gets a link of its own. The same in one process, with `--workers 2` and with two replicas
 * on Redis (the remembered link is in the shared store).
 */
import { createHash } from 'node:crypto'
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, gatewayYaml } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const AUD = 'https://gateway.test'
const SECRET = 'app-a-hs256-secret-of-at-least-32-bytes!'
const OTHER = 'app-b-hs256-secret-of-at-least-32-bytes!'
const fx = useDanceProvider()
const CALLERS = `callers:\n  required: true\n  adminToken: ${ADMIN_TOKEN}\n  apps:\n` +
  `    - { clientId: bot, hs256Secret: "${SECRET}", audience: ${AUD}, endpoints: [partner] }\n` +
  `    - { clientId: otherbot, hs256Secret: "${OTHER}", audience: ${AUD}, endpoints: [partner] }`

async function bearer(app: 'bot' | 'otherbot', sub: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: app, aud: AUD, sub, iat: now, exp: now + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(app === 'bot' ? SECRET : OTHER))
}

describe.each(TOPOLOGIES)('a user without a token, %s', (kind) => {
  const { gw, topo } = useTopology(kind, 'link-reuse', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, callers: CALLERS }))
  /** The link id of a 401's authorizeUrl (each replica writes its own origin around it). */
  const linkOf = async (token: string): Promise<string> => {
    const r = await send(gw.url, '/proxy/partner/x', { headers: { 'proxy-authorization': `Bearer ${token}` } })
    expect(r.status).toBe(401)
    const id = new URL(r.json<{ errors: { authorizeUrl: string }[] }>().errors[0]?.authorizeUrl as string).searchParams.get('link')
    expect(id).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    return id as string
  }
  const links = async (): Promise<string[]> => topo().store.keys('oauth1:link:')

  it('gets one link for 40 retried calls; another user, or another app\'s user of the same id, a link of its own', async () => {
    const before = (await links()).length
    const alice = await bearer('bot', 'alice')
    const first = await linkOf(alice)
    for (let i = 0; i < 40; i++) expect(await linkOf(alice)).toBe(first)
    expect((await links()).length).toBe(before + 1)
    const bob = await linkOf(await bearer('bot', 'bob'))
    const otherAlice = await linkOf(await bearer('otherbot', 'alice'))
    expect(new Set([first, bob, otherAlice]).size).toBe(3)
    expect((await links()).length).toBe(before + 3)
  })

  it('a link that was used is not handed out again', async () => {
    const carol = await bearer('bot', 'carol')
    const first = await linkOf(carol)
    // What opening the link's page and starting the dance does to it: the record is taken.
    const before = await links()
    const key = `oauth1:link:${createHash('sha256').update(first).digest('base64url')}`
    expect(before).toContain(key)
    expect(await topo().store.delete(key)).toBe(true)
    const second = await linkOf(carol)
    expect(second).not.toBe(first)
    expect(await linkOf(carol)).toBe(second)
  })
})
