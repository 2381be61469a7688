/**
 * A Sentinel password rotation (`store.redis.sentinel.password` from a `${file:}` secret, renewed
 * on reload) reaches the failover watch's subscriptions at every Sentinel, the discovered ones
 * included, against real Sentinels that require the password of an ACL user:
 * - secret first, then the Sentinels: the watch's connections, dropped by the Sentinels, come
 *   back subscribed with the new password;
 * - Sentinels first: the watch's connections are refused meanwhile (a warning and a /readyz note
 *   per Sentinel), and the reload brings every subscription back at once, the note gone.
 * Neither password is ever logged.
 */
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, onSentinel, partnerEndpointYaml, sentinelSubscribers, stopAll } from './redis-gateway-support.js'

const REFUSED = "a Sentinel refuses the store's failover watch: its failovers are followed late"
const OLD = 'old-sentinel-password-3'
const NEW = 'new-sentinel-password-4'

let set: SentinelSet
let pki: TestPki
const gateways: OpsGateway[] = []

/** Connections of `user` subscribed on every Sentinel: one each. */
async function subscribedEverywhere(user: string): Promise<boolean> {
  for (const s of set.sentinels) if ((await sentinelSubscribers(s.port, user)) !== 1) return false
  return true
}

/** Every Sentinel takes only `password` for `user`, and drops the user's connections. */
async function rotateAtSentinels(user: string, password: string): Promise<void> {
  for (const s of set.sentinels) {
    await onSentinel(s.port, 'ACL', 'SETUSER', user, 'resetpass', `>${password}`)
    await onSentinel(s.port, 'CLIENT', 'KILL', 'USER', user)
  }
}

/** A gateway configured with the first Sentinel only, as ACL user `user` with the password in a secret file. */
async function startWithSecret(user: string): Promise<{ g: OpsGateway; secret: string }> {
  for (const s of set.sentinels) await onSentinel(s.port, 'ACL', 'SETUSER', user, 'on', `>${OLD}`, '+@all', '~*', 'allchannels')
  const secret = join(pki.dir, `${user}-password`)
  writeFileSync(secret, OLD)
  const s0 = set.sentinels[0] as Peer
  const yaml = `store:\n  kind: redis\n  keyPrefix: "rotate-${randomUUID()}:"\n  redis:\n` +
    `    sentinel: { addresses: ["127.0.0.1:${s0.port}"], primaryName: ${set.primaryName}, username: ${user}, password: "\${file:${secret}}" }\n` +
    `    commandTimeout: 1500ms\n    connectTimeout: 1s\n    replicasToAcknowledge: 0\n${CALLERS}endpoints:\n${partnerEndpointYaml(9, pki)}`
  // One gateway at a time: each test's writes the one gateway.yaml of the PKI dir (the last closes at its end).
  const g = await startOpsGateway(pki.dir, yaml)
  gateways.push(g)
  expect((await exchangeToken(g.gw.url)).status).toBe(200)
  await eventually(() => subscribedEverywhere(user), 30_000, 'a subscription at each Sentinel')
  return { g, secret }
}

const watchNotes = async (g: OpsGateway): Promise<string[]> =>
  ((JSON.parse((await get(`${g.adminUrl}/readyz`)).text) as { notes?: string[] }).notes ?? []).filter((n) => n.startsWith('store failover watch: '))
const refusals = (g: OpsGateway): number => g.lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === REFUSED).length

async function reloadWith(g: OpsGateway, secret: string, password: string): Promise<void> {
  const before = g.gw.ref.current
  replaceFile(secret, password)
  await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload with the new Sentinel password')
}

beforeAll(async () => {
  ;[set, pki] = await Promise.all([startSentinelSet(), createTestPki()])
})

afterAll(async () => {
  for (const g of gateways) await g.gw.close().catch(() => undefined)
  await stopAll(undefined, set, pki)
})

describe('Sentinel password rotation and the failover watch', () => {
  it('secret first: the watch comes back subscribed at every Sentinel with the new password', async () => {
    const { g, secret } = await startWithSecret('gwa')
    await reloadWith(g, secret, NEW)
    await rotateAtSentinels('gwa', NEW)
    await eventually(() => subscribedEverywhere('gwa'), 30_000, 'every subscription back with the new password')
    expect((await exchangeToken(g.gw.url)).status).toBe(200)
    expect(refusals(g)).toBe(0)
    expect(await watchNotes(g)).toEqual([])
    const text = g.lines.join('\n')
    expect(text).not.toContain(OLD)
    expect(text).not.toContain(NEW)
    await g.gw.close()
  }, 120_000)

  it('Sentinels first: refused meanwhile (warned, noted), every subscription back at the reload', async () => {
    const { g, secret } = await startWithSecret('gwb')
    await rotateAtSentinels('gwb', NEW)
    await eventually(async () => refusals(g) === 3 && (await watchNotes(g)).length === 1, 30_000, 'the three refusals warned of and noted')
    expect((await watchNotes(g))[0]).toContain('WRONGPASS')
    await reloadWith(g, secret, NEW)
    await eventually(() => subscribedEverywhere('gwb'), 30_000, 'every subscription back with the new password')
    await eventually(async () => (await watchNotes(g)).length === 0, 20_000, 'the note gone')
    expect(refusals(g)).toBe(3)
    const text = g.lines.join('\n')
    expect(text).not.toContain(OLD)
    expect(text).not.toContain(NEW)
    await g.gw.close()
  }, 120_000)
})
