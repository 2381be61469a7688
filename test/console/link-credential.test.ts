/**
 * The console's one-time link (POST api/users/link) for a user holding a gateway bearer, on a
 * profile whose URLs the user fills: refused as the dance's own start refuses it (400
 * credential_in_target, the same body word for word), and no link is stored, so no record holds the
 * bearer and no click can carry it toward the provider. An ordinary user gets a link. The console
 * makes its link with its own check (createAuthorizeLink), not through the dance's start: without
 * it the console handed out the link and only its click was refused.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newBearerToken } from '../../src/callers/bearer-shape.js'
import { send } from '../support/gateway.js'
import { sqliteKeysLike } from '../support/store-expiry.js'
import { ADMIN } from '../oauth1-dance/dance-support.js'
import { startProviderlessConsole, type ProviderlessConsole } from './console-support.js'

/** A profile whose request-token URL and authorize page are filled with the user (no provider answers: nothing is dialled here). */
const BY_USER = `  - name: byuser
    endpoint: partner
    consumerKey: dancegatewayconsumer01
    consumerSecret: dance-consumer-secret-7f3a
    requestTokenUrl: "https://api.partner.test:9/request_token?u={{user}}"
    accessTokenUrl: https://api.partner.test:9/access_token
    authorizeUrl: "https://127.0.0.1:9/authorize?who={{user}}"
    token: { mode: per_user }
`

let c: ProviderlessConsole

beforeAll(async () => {
  c = await startProviderlessConsole('console-link-credential-', BY_USER)
})

afterAll(async () => {
  await c?.close()
})

/** The keys of the dance's links in the gateway's SQLite file. */
function linkKeys(): string[] {
  return sqliteKeysLike(join(c.dir, 'state.db'), 'oauth1:link%')
}

describe("the console's one-time link for a user holding a gateway bearer", () => {
  it("is refused with the dance's own 400 credential_in_target, word for word, and no link is stored; an ordinary user gets one", async () => {
    const bearer = newBearerToken()
    for (const user of [bearer, bearer.toLowerCase(), `x-${bearer}`]) {
      const before = linkKeys()
      const danceStart = await send(c.ops.gw.url, `/gateway/oauth1/byuser/authorize?user=${encodeURIComponent(user)}&app=&format=json`, { headers: ADMIN })
      expect(danceStart.status, danceStart.text).toBe(400)
      expect(danceStart.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toContain('holds a gateway credential')
      const link = await c.post('users/link', { app: '', profile: 'byuser', user })
      expect([link.status, JSON.parse(link.text)], link.text).toEqual([400, danceStart.json()])
      expect(linkKeys(), 'no link was stored').toEqual(before)
    }
    const ordinary = await c.post('users/link', { app: '', profile: 'byuser', user: 'alice' })
    expect(ordinary.status, ordinary.text).toBe(200)
    expect(linkKeys()).toHaveLength(1)
  })
})
