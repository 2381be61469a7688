/**
 * Two Sentinel failovers in a row (the replica promoted, then the old primary back), as an
 * operator moves the primary off a node and back, while callers exchange assertions and use their
 * bearers. The gateway (the default `replicasToAcknowledge: 1`) follows both: after each, writes
 * land on the new primary and `store_up` is 1 again; every exchange it acknowledged (a 200) keeps
 * its bearer valid and its assertion a replay; failures in between are 503 store_unavailable only.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeJwt } from 'jose'
import { createTestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import { rawClient, startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, partnerEndpointYaml, sentinelRedisYaml, signAssertion, startUpstream, stopAll } from './redis-gateway-support.js'

const PREFIX = `double-failover-${randomUUID()}:`
const UNREACHABLE = "the gateway's store is not answering: try again shortly (the gateway's log says why)"
// The Sentinel set, and the gateway on it with an upstream its bearers call.
let set: SentinelSet
let g: OpsGateway
let stop: () => Promise<void>

beforeAll(async () => {
  const [started, pki] = await Promise.all([startSentinelSet(), createTestPki()])
  set = started
  const upstream = await startUpstream(pki)
  stop = () => stopAll(g, set, pki, upstream)
  g = await startOpsGateway(pki.dir, `store:
  kind: redis
  keyPrefix: "${PREFIX}"
  redis:
${sentinelRedisYaml(set)}${CALLERS}endpoints:
${partnerEndpointYaml(upstream.port, pki)}`, { watch: false })
})

afterAll(() => stop?.())

const acknowledged: { assertion: string; bearer: string }[] = []
const unexpected: string[] = []

/** One exchange: a 200 is acknowledged (kept to check later), a 503 must be the store's, nothing else may happen. */
async function exchange(): Promise<string | undefined> {
  const assertion = await signAssertion()
  const r = await exchangeToken(g.gw.url, assertion)
  if (r.status === 200) {
    acknowledged.push({ assertion, bearer: r.json<{ access_token: string }>().access_token })
    return assertion
  }
  if (r.status !== 503 || r.json<{ errors: { msg: string }[] }>().errors[0]?.msg !== UNREACHABLE) unexpected.push(`${r.status} ${r.text}`)
  return undefined
}

const useBearer = async (bearer: string): Promise<number> => (await send(g.gw.url, '/proxy/partner/x', { headers: { authorization: `Bearer ${bearer}` } })).status

/** After a failover to `port`: an exchange goes through and its jti entry is on that server; store_up is 1. */
async function followed(port: number): Promise<void> {
  const assertion = await eventually(exchange, 40_000, `an exchange acknowledged after the failover to ${port}`)
  const jti = String(decodeJwt(assertion).jti)
  const c = rawClient(port)
  try {
    const [, found] = await c.scan('0', 'MATCH', `${PREFIX}jti:*${jti}`, 'COUNT', 100_000)
    expect(found, `the jti entry on the new primary ${port}`).toHaveLength(1)
  } finally {
    c.disconnect()
  }
  await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up') === 1, 40_000, 'store_up 1 again')
}

describe('two Sentinel failovers in a row', () => {
  it('the gateway follows both; nothing acknowledged is lost; failures in between are 503 store_unavailable', async () => {
    await followed(await set.currentPrimaryPort())
    let running = true
    const load = Promise.all([0, 1].map(async () => {
      while (running) await exchange()
    }))
    try {
      const first = await set.failover()
      await followed(first)
      const second = await set.failover()
      expect(second).not.toBe(first)
      await followed(second)
    } finally {
      running = false
      await load
    }
    expect(unexpected).toEqual([])
    for (const { assertion, bearer } of acknowledged) {
      expect(await useBearer(bearer), set.history()).toBe(200)
      expect((await exchangeToken(g.gw.url, assertion)).status).toBe(401)
    }
  }, 120_000)
})
