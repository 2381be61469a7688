/**
 * Two gateway processes sharing Redis (two replicas behind one Service): the dance
 * starts on one, the provider's callback lands on the other, and both sign the user's
 * calls with the token. Needs the dist build (`npm run build`; `npm test` does it).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { authorizeLink, cookieFor, cookieHeader, finishInBrowser, gatewayYaml, pathOf, startDanceProvider, startInBrowser, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let dir: string
let a: GatewayProcess
let b: GatewayProcess
const prefix = uniqueRedisPrefix()

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-replicas-'))
  const file = join(dir, 'gateway.yaml')
  // One file, hence one sealing key: replicas must share it to open each other's records.
  writeFileSync(file, gatewayYaml({ pki, provider, store: { kind: 'redis', url: REDIS_URL, keyPrefix: prefix } }))
  ;[a, b] = await Promise.all([spawnGateway(file, ['--workers', '1']), spawnGateway(file, ['--workers', '1'])])
})

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await provider?.close()
  await wipeRedisPrefix(prefix)
  pki?.cleanup()
  rmSync(dir, { recursive: true, force: true })
})

describe('two gateway processes sharing Redis', () => {
  it('start on A, the callback lands on B, both sign the user\'s calls', async () => {
    expect(a.url).not.toBe(b.url)
    const link = await authorizeLink(a.url, 'user=rita')
    expect(link.startsWith(`${a.url}/gateway/oauth1/partner/authorize?link=`)).toBe(true)
    const started = await startInBrowser(link, { provider, gateway: a.url })
    const { callbackUrl, done } = await finishInBrowser(started, { provider, gateway: b.url })
    expect(callbackUrl.startsWith(a.url)).toBe(true)
    expect(done.status, done.text).toBe(200)
    expect(done.text).toContain('Authorization complete')
    expect((await send(a.url, pathOf(callbackUrl), { headers: { cookie: cookieHeader(started.cookie) } })).status).toBe(400)

    const onB = await send(b.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'rita' } })
    expect(onB.status, onB.text).toBe(200)
    const onA = await send(a.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'rita' } })
    expect(onA.status, onA.text).toBe(200)
    expect(onA.json<{ token: string }>().token).toBe(onB.json<{ token: string }>().token)
  })

  it('an authorize link made by B opens on A', async () => {
    const miss = await send(b.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'sam' } })
    expect(miss.status).toBe(401)
    const link = miss.json<{ errors: { authorizeUrl: string }[] }>().errors[0]!.authorizeUrl
    const started = await startInBrowser(link, { provider, gateway: a.url })
    expect(started.click.status, started.click.text).toBe(303)
    // The callback on B completes the dance that A's page bound to this browser.
    const { done } = await finishInBrowser(started, { provider, gateway: b.url })
    expect(done.status, done.text).toBe(200)
    expect((await send(a.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'sam' } })).status).toBe(200)
  })

  it('the same callback on A and B at once (a replayed redirect racing the real one): one stores a token, the other finds nothing', async () => {
    for (const user of ['race1', 'race2', 'race3', 'race4']) {
      const started = await startInBrowser(await authorizeLink(a.url, `user=${user}`), { provider, gateway: a.url })
      const callbackUrl = await provider.decide(started.requestToken, 'approve')
      const before = (await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length
      const headers = cookieFor(started.cookie, callbackUrl)
      const both = await Promise.all([send(a.url, pathOf(callbackUrl), { headers }), send(b.url, pathOf(callbackUrl), { headers })])
      expect(both.map((r) => r.status).sort(), both.map((r) => r.text).join('\n')).toEqual([200, 400])
      expect(both.find((r) => r.status === 400)?.text).toContain('unknown, expired or already completed')
      // The provider was asked once: the loser never reached the access-token URL.
      expect((await provider.state()).token_calls.filter((c) => c.endpoint === 'access_token').length).toBe(before + 1)
    }
  })
})
