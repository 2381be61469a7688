/**
 * A profile whose users must supply a PIN: the JSON start hands back the gateway's own
 * link (the PIN never passes through the bot), the link's form collects it, it is stored
 * sealed with the token and injected by a `{{fields.pin}}` authorization field. A caller
 * that has the PIN may send it with the start; the link's page then asks for nothing. Run
 * in-process, against --workers 2, and against two replicas on Redis, alternating.
 */
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { TOPOLOGIES, useTopology } from '../support/topology.js'
import { ADMIN_TOKEN, clickLink, danceInBrowser, gatewayYaml, pathOf, rawValues } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'

const PIN = 'pin-5Q7x-98765'
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const fx = useDanceProvider()

const PROFILE_EXTRA = '    userFields: [pin]\n    fields:\n      - type: query\n        key: pin\n        value: "{{fields.pin}}"\n'

describe.each(TOPOLOGIES)('user fields (a PIN) collected at the authorize step (%s)', (kind) => {
  const { gw, topo } = useTopology(kind, 'dance-fields', (store) => gatewayYaml({ pki: fx.pki, provider: fx.provider, store, profileExtra: PROFILE_EXTRA }))

  it('link → PIN form → fx.provider → callback; the PIN signs along and is sealed at rest', async () => {
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize?user=erin&app=&format=json', { headers: admin })
    const link = start.json<{ authorizeUrl: string }>().authorizeUrl
    expect(topo().urls.some((u) => link.startsWith(`${u}/gateway/oauth1/partner/authorize?link=`))).toBe(true)

    const form = await send(gw.url, pathOf(link))
    expect(form.status).toBe(200)
    expect(form.text).toContain('name="field.pin"')
    expect(form.text).toContain('Partner Bank')

    const empty = await clickLink(() => gw.url, link, { pin: '' })
    expect(empty.status).toBe(400)
    expect(empty.headers['set-cookie']).toBeUndefined()
    const dance = await danceInBrowser(link, { provider: fx.provider, gateway: () => gw.url, fields: { pin: PIN } })
    expect(dance.click.status, dance.click.text).toBe(303)
    expect(dance.done.status).toBe(200)

    const call = await send(gw.url, '/proxy/partner/resource/acct', { headers: { 'x-gateway-user': 'erin' } })
    expect(call.status, call.text).toBe(200)
    expect(call.json<{ params: string[][] }>().params).toContainEqual(['pin', PIN])
    const rows = await rawValues(topo().store)
    // The token the pin was signed with is among the values read (a read of nothing would pass).
    expect(rows.map((r) => r.key)).toContainEqual(expect.stringMatching(/^oauth1:token:\/erin:partner:/))
    for (const r of rows) expect(r.value).not.toContain(PIN)
  })

  it('a JSON POST may carry the fields: its link\'s page asks for none, and they sign along', async () => {
    const start = await send(gw.url, '/gateway/oauth1/partner/authorize', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ user: 'fay', app: '', fields: { pin: PIN } }),
    })
    expect(start.status, start.text).toBe(200)
    const link = start.json<{ authorizeUrl: string }>().authorizeUrl
    expect(topo().urls.some((u) => link.startsWith(`${u}/gateway/oauth1/partner/authorize?link=`))).toBe(true)
    // Kept sealed with the link until the click: never in the clear in the store.
    const rows = await rawValues(topo().store)
    expect(rows.map((r) => r.key), 'the link is stored').toContainEqual(expect.stringMatching(/^oauth1:link:/))
    for (const r of rows) expect(r.value).not.toContain(PIN)
    const dance = await danceInBrowser(link, { provider: fx.provider, gateway: () => gw.url })
    expect(dance.page.text).not.toContain('name="field.pin"')
    expect(dance.done.status, dance.done.text).toBe(200)
    const call = await send(gw.url, '/proxy/partner/resource/acct', { headers: { 'x-gateway-user': 'fay' } })
    expect(call.json<{ params: string[][] }>().params).toContainEqual(['pin', PIN])
  })

  it('unknown field names are refused', async () => {
    const res = await send(gw.url, '/gateway/oauth1/partner/authorize', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'gus', app: '', fields: { pin: '1', account: '2' } }),
    })
    expect(res.status).toBe(400)
    expect(res.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toContain('no user field "account"')
  })
})
