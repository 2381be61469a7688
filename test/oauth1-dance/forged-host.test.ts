/**
 * Session fixation through the Host header on 1.0a. Without listen.publicUrl or callbackUrl the
 * gateway learns its own origin from a request's Host. The link's form POST is sent by whoever
 * holds the link, and a script sends any Host: had that Host made the dance's oauth_callback, a
 * user could start a dance for themselves whose callback is their own site, send the provider's
 * approval page to a victim, receive the victim's verifier there, and replay it to the gateway
 * with their own cookie: the victim's account at the provider, stored as the attacker's token.
 * The callback origin is the one the link was made on (by the credentialed start), whatever the
 * POST's Host says. Seeded property over the Host a POST carries.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send, startTestGateway } from '../support/gateway.js'
import { authorizeLink, gatewayYaml, pathOf, requestTokenOf, startDanceProvider, type DanceProvider } from './dance-support.js'

let pki: TestPki
let provider: DanceProvider
let dir: string
let gw: RunningGateway

beforeAll(async () => {
  pki = await createTestPki()
  provider = await startDanceProvider(pki)
  dir = mkdtempSync(join(tmpdir(), 'dance-forged-host-'))
  gw = await startTestGateway(dir, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'g.db') } }))
})

afterAll(async () => {
  await gw?.close()
  await provider?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)
const host = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([labels, port]) => `${labels.join('.')}${port === undefined ? '' : `:${port}`}`)

/** A link's page opened and its button clicked with `host` as the Host of both requests: the provider's approval page the click redirects to. */
async function clickWithHost(link: string, host: string): Promise<string> {
  const page = await send(gw.url, pathOf(link), { headers: { host } })
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] as string
  const action = (/<form method="post" action="([^"]+)"/.exec(page.text)?.[1] as string).replaceAll('&amp;', '&')
  const click = await send(gw.url, action, { method: 'POST', headers: { host, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }).toString() })
  expect(click.status, click.text).toBe(303)
  return String(click.headers.location)
}

describe('the link form POSTed with another Host', () => {
  it('the provider sends the approval back to the origin the link was made on (seeded)', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(host, async (forged) => {
        const link = await authorizeLink(gw.url, `user=mallory${run++}`)
        const back = new URL(await provider.decide(requestTokenOf(await clickWithHost(link, forged)), 'approve'))
        expect(back.origin + back.pathname).toBe(`${gw.url}/gateway/oauth1/callback`)
      }),
      { seed: 0x4057, numRuns: 8, examples: [['evil.example:8443']] },
    )
  }, 120_000)

  it('a failing call\'s link handed out again only on the origin it was made on: each link\'s dance calls back to its own origin', async () => {
    const port = new URL(gw.url).port
    const linkFor = async (host: string): Promise<string> => {
      const miss = await send(gw.url, '/proxy/partner/resource/r', { headers: { 'x-gateway-user': 'victor', host } })
      expect(miss.status, miss.text).toBe(401)
      return miss.json<{ errors: { authorizeUrl: string }[] }>().errors[0]!.authorizeUrl
    }
    const first = await linkFor(`127.0.0.1:${port}`)
    expect(await linkFor(`127.0.0.1:${port}`)).toBe(first)
    const second = await linkFor(`localhost:${port}`)
    expect(new URL(second).origin).toBe(`http://localhost:${port}`)
    // The browser opens the second link on its own host; the cookie it gets belongs to that host.
    const back = new URL(await provider.decide(requestTokenOf(await clickWithHost(second, new URL(second).host)), 'approve'))
    expect(back.origin).toBe(new URL(second).origin)
  })
})
