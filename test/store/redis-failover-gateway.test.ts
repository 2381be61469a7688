/**
 * The gateway through a Sentinel failover: store-needing requests (assertion exchange, which
 * records the jti) answer 503 with a message naming the store — never a hang, never a 500 —
 * and recover once the set is whole again; requests that do not need the store keep working;
 * /readyz and mtls_gateway_store_up say what is true at each moment.
 */
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import type { RunningServer } from '../support/tls-server.js'
import { eventually, startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import { get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { sentinelRedisYaml, startUpstream } from './redis-gateway-support.js'

const AUD = 'https://gateway.test'
const HS = 'hs-secret-of-at-least-thirty-two-bytes!'
const HUNG_MS = 15_000
let set: SentinelSet
let pki: TestPki
let upstream: RunningServer
let g: OpsGateway

beforeAll(async () => {
  ;[set, pki] = await Promise.all([startSentinelSet(), createTestPki()])
  upstream = await startUpstream(pki)
  const tls = `${clientTlsYaml(pki)}`
  g = await startOpsGateway(pki.dir, `store:
  kind: redis
  keyPrefix: "mtls-gateway-test:${randomUUID()}:"
  redis:
${sentinelRedisYaml(set)}    # The failover's effect on readiness is what this test watches (by default Redis only notes it).
    gateReadiness: true
callers:
  required: false
  apps:
    - { clientId: bot, hs256Secret: "${HS}", audience: "${AUD}", endpoints: [accounts] }
endpoints:
  - name: accounts
    url: https://api.partner.test:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    tls: ${tls}
`, { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  await upstream?.close()
  await set?.stop()
  pki?.cleanup()
})

const now = (): number => Math.floor(Date.now() / 1000)
const assertion = (): Promise<string> =>
  new SignJWT({ iss: 'bot', aud: AUD, sub: 'u', jti: randomUUID(), iat: now(), exp: now() + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS))

interface Observed {
  exchange: number
  exchangeMsg: string
  proxy: number
  ready: number
  readyText: string
  storeUp: number | undefined
  ms: number
}

async function observe(): Promise<Observed> {
  const t0 = Date.now()
  const [ex, proxy, ready, metrics] = await Promise.all([
    send(g.gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: await assertion() }) }),
    send(g.gw.url, '/proxy/accounts/x'),
    get(`${g.adminUrl}/readyz`),
    scrape(g.adminUrl),
  ])
  const msg = ex.status === 200 ? '' : (ex.json<{ errors: { msg: string; code: number }[] }>().errors[0]?.msg ?? '')
  return { exchange: ex.status, exchangeMsg: msg, proxy: proxy.status, ready: ready.status, readyText: ready.text, storeUp: valueOf(metrics, 'mtls_gateway_store_up'), ms: Date.now() - t0 }
}

describe('the gateway during a Sentinel failover', () => {
  it('503 store_unavailable while the store cannot answer, everything else unaffected, readiness truthful, recovery on its own', async () => {
    // The steady state first: a Sentinel set just started may still be syncing its replica on a loaded machine.
    await eventually('the store answering before the failover', async () => {
      const o = await observe()
      return o.exchange === 200 && o.proxy === 200 && o.ready === 200 && o.storeUp === 1
    }, 30_000)

    const seen: Observed[] = []
    let watching = true
    // Stops with the test whatever happens, so no request outlives the gateway.
    const watcher = (async () => {
      while (watching) seen.push(await observe())
    })()
    watcher.catch(() => undefined)
    try {
    const killed = await set.killPrimary()
    // Promoted, but with no replica left no write can be acknowledged: still 503, and /readyz says why.
    await eventually('a not-ready report naming the missing replica', async () => seen.some((o) => o.readyText.includes('replicas writes must reach')), 40_000)
    await killed.restart()
    await eventually('recovery', async () => {
      const o = seen[seen.length - 1]
      return o !== undefined && o.exchange === 200 && o.ready === 200 && o.storeUp === 1
    }, 40_000)
    } finally {
      watching = false
      await watcher.catch(() => undefined)
      if (process.env.DEBUG_FAILOVER) console.log(JSON.stringify(seen, null, 1))
    }

    const failed = seen.filter((o) => o.exchange !== 200)
    expect(failed.length).toBeGreaterThan(0)
    for (const o of seen) {
      expect(o.proxy).toBe(200)
      expect(o.ms).toBeLessThan(HUNG_MS)
      // The three views agree: the store failed a request ⇒ it is not reported up and ready.
      if (o.exchange !== 200) {
        expect(o.exchange).toBe(503)
        // The caller is told the store is away, not its Sentinels' addresses (/readyz, below, names them).
        expect(o.exchangeMsg).toBe("the gateway's store is not answering: try again shortly (the gateway's log says why)")
      }
    }
    expect(seen.filter((o) => o.ready !== 200).every((o) => o.readyText.includes('"store: redis store sentinel'))).toBe(true)
    expect(seen.some((o) => o.storeUp === 0)).toBe(true)
  })
})
