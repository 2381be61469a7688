/**
 * A Host header shaped like host:port that no URL can hold (a port above 65535, an IPv6 literal
 * that is none): the gateway builds its link and callback on its config or nothing, never on it.
 * Before, `new URL` threw on it after the link was stored: a 500 `internal error` on the
 * credentialed authorize, and on a proxied call's 401 that names the link to open.
 */
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { useDanceGateway } from './dance-gateway.js'
import { ADMIN, ADMIN_TOKEN } from './dance-support.js'

// No caller apps: the proxied call names its user with X-Gateway-User.
const d = useDanceGateway({ prefix: 'dance-host-origin-', callers: `callers:\n  required: false\n  adminToken: ${ADMIN_TOKEN}` })

describe('a Host no URL can hold', () => {
  it.each(['gw.example:99999', '[::::]', '[1:2:3]:8080'])('%s: the authorize answers with a link, a user without a token gets the 401 naming one', async (host) => {
    const authorize = await send(d.gw.url, '/gateway/oauth1/partner/authorize?user=alice&app=&format=json', { headers: { ...ADMIN, host } })
    expect(authorize.status, authorize.text).toBe(200)
    expect(authorize.json<{ authorizeUrl: string }>().authorizeUrl).toMatch(/^\/gateway\/oauth1\/partner\/authorize\?link=/)
    const call = await send(d.gw.url, '/proxy/partner/resource/me', { headers: { host, 'x-gateway-user': 'bob' } })
    expect(call.status, call.text).toBe(401)
    expect(call.json<{ errors: { authorizeUrl: string }[] }>().errors[0]?.authorizeUrl).toMatch(/^\/gateway\/oauth1\/partner\/authorize\?link=/)
  })
})
