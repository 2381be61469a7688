/**
 * A user field named like an Object.prototype member (`__proto__`, `constructor`) is kept and
 * injected like any other. The authorize step built the user's fields with `out[name] = value`,
 * which for `__proto__` sets the prototype instead, so the stored fields lacked it and
 * `{{fields.__proto__}}` went out as `[object Object]`. Real python3-oauthlib provider, in process.
 */
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, danceInBrowser, gatewayYaml } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const fx = useDanceProvider()
const PROFILE_EXTRA = '    userFields: [__proto__, constructor]\n    fields:\n' +
  '      - { type: query, key: pin, value: "{{fields.__proto__}}" }\n      - { type: query, key: ctor, value: "{{fields.constructor}}" }\n'

describe('user fields named like Object.prototype members', () => {
  const { gw } = useTopology('in-process', 'dance-field-names', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, profileExtra: PROFILE_EXTRA }))

  it('are stored and signed along as sent', async () => {
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize', {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', accept: 'application/json' },
      // Written as text: a JavaScript literal { __proto__: … } would set a prototype, not a key.
      body: '{"user":"hal","app":"","fields":{"__proto__":"pin-1234","constructor":"c-5678"}}',
    })
    expect(start.status, start.text).toBe(200)
    const dance = await danceInBrowser(start.json<{ authorizeUrl: string }>().authorizeUrl, { provider: fx.provider, gateway: () => gw.url })
    expect(dance.done.status, dance.done.text).toBe(200)
    const call = await send(gw.url, '/proxy/partner/resource/acct', { headers: { 'x-gateway-user': 'hal' } })
    expect(call.status, call.text).toBe(200)
    expect(call.json<{ params: string[][] }>().params).toEqual(expect.arrayContaining([['pin', 'pin-1234'], ['ctor', 'c-5678']]))
  })
})
