/**
 * `info` is optional in the gateway user's ACL (docs/store.md), with replicas to acknowledge too:
 * the probe then counts the primary's replicas in sync with the `WAIT` the writes use. A user
 * without `info` reads ready with store_up 1 while the replica is there, and 0 with the replica
 * count in the note once it is gone. Before, the probe's `INFO replication` was refused and the
 * store read down (NOPERM) while every request worked.
 */
import { isDeepStrictEqual } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { startRedisServer } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, stopAll } from './redis-gateway-support.js'

const PASSWORD = 'acl-info-test-password-1'
let pki: TestPki
let primary: Peer
let replica: Peer | undefined
let g: OpsGateway

beforeAll(async () => {
  pki = await createTestPki()
  // `default` stays the test's admin (and the replica's); `gw` may do all but INFO.
  primary = await startRedisServer({ conf: () => `repl-diskless-sync-delay 0\nuser gw on >${PASSWORD} ~acl-info:* +@all -info\n` })
  replica = await startRedisServer({ conf: () => `replicaof 127.0.0.1 ${primary.port}\n`, readyLine: /MASTER <-> REPLICA sync: Finished with success/ })
  const store = `store: { kind: redis, url: "redis://127.0.0.1:${primary.port}", keyPrefix: "acl-info:", redis: { username: gw, password: "${PASSWORD}", replicasToAcknowledge: 1, acknowledgeTimeout: 500ms } }\n`
  g = await startOpsGateway(pki.dir, `${store}${CALLERS}endpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`, { watch: false })
})

afterAll(async () => {
  await replica?.stop()
  await stopAll(g, primary, pki)
})

interface Readiness { status: string; notes?: string[] }
const readyz = async (): Promise<Readiness> => JSON.parse((await get(`${g.adminUrl}/readyz`)).text) as Readiness
const storeUp = async (): Promise<number | undefined> => valueOf(await scrape(g.adminUrl), 'mtls_gateway_store_up')

describe('a Redis user without info, with replicasToAcknowledge 1', () => {
  it('reads up while the replica is in sync (writes acknowledged), down naming the replica count once it is gone', async () => {
    await eventually(async () => (await exchangeToken(g.gw.url)).status === 200, 30_000, 'an acknowledged exchange')
    // Read until they settle: each reading is a probe within the check's 2 s budget, which a
    // loaded machine can outlast (a reading of "no answer", not of the ACL); NOPERM never settles.
    await eventually(async () => isDeepStrictEqual(await readyz(), { status: 'ready' }), 30_000, 'readyz ready')
    await eventually(async () => (await storeUp()) === 1, 30_000, 'store_up 1')

    await replica?.stop()
    replica = undefined
    const said = `store: redis store redis://127.0.0.1:${primary.port}: the primary has 0 of the 1 replicas writes must reach`
    await eventually(async () => (await storeUp()) === 0, 30_000, 'store_up 0 without the replica')
    // The probe's WAIT takes acknowledgeTimeout (500 ms) to say 0: read until the note settles.
    await eventually(async () => isDeepStrictEqual(await readyz(), { status: 'ready', notes: [said] }), 30_000, 'readyz naming the replica count')
    expect((await exchangeToken(g.gw.url)).status).toBe(503)
  }, 120_000)
})
