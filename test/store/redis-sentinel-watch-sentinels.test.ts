/**
 * Which Sentinels the store's failover watch follows (`+switch-master`), against real Sentinels:
 * - a Sentinel that refuses the subscription (its ACL user has no channel) is named once in a
 *   warning and in a /readyz note (200: the store answers), without the password; once the ACL
 *   grants the channel the watch subscribes there and the note goes. Before, the refusal was
 *   swallowed and the watch was silently off at that Sentinel.
 * - Sentinels the configured ones name (`SENTINEL sentinels`) are subscribed too. Before, only
 *   the configured addresses were, though ioredis itself looks the primary up at the others.
 * - With `--workers 2` each worker does both, warns once and notes it on the primary's /readyz,
 *   and a hot reload changes none of it.
 * - `mtls_gateway_store_failover_watch_sentinels{state="following"|"refused"}` counts them (per
 *   process; the --workers primary sums the workers'). Before, the refusal showed in no metric.
 */
import { randomUUID } from 'node:crypto'
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import type { Peer } from '../support/peers.js'
import { eventually, get, instanceReloads, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, onSentinel, partnerEndpointYaml, sentinelSubscribers as subscribers, stopAll } from './redis-gateway-support.js'

const REFUSED = "a Sentinel refuses the store's failover watch: its failovers are followed late"
const PASSWORD = 'watch-user-password-7'

let set: SentinelSet
let pki: TestPki
const gateways: OpsGateway[] = []

const gatewayYaml = (sentinels: readonly Peer[], credentials: string): string =>
  `store:\n  kind: redis\n  keyPrefix: "watch-${randomUUID()}:"\n  redis:\n` +
  `    sentinel: { addresses: [${sentinels.map((s) => `"127.0.0.1:${s.port}"`).join(', ')}], primaryName: ${set.primaryName}${credentials} }\n` +
  `    commandTimeout: 1500ms\n    connectTimeout: 1s\n    replicasToAcknowledge: 0\n${CALLERS}endpoints:\n${partnerEndpointYaml(9, pki)}`

const warnings = (g: OpsGateway): { problem: string }[] =>
  g.lines.map((l) => JSON.parse(l) as { msg: string; problem: string }).filter((e) => e.msg === REFUSED)

const readyz = async (g: OpsGateway): Promise<{ status: number; notes: string[] }> => {
  const r = await get(`${g.adminUrl}/readyz`)
  return { status: r.status, notes: (JSON.parse(r.text) as { notes?: string[] }).notes ?? [] }
}

/** `store_failover_watch_sentinels` at an admin URL, as `following/refused`. */
const watched = async (adminUrl: string): Promise<string> => {
  const m = await scrape(adminUrl)
  const at = (state: string): number | undefined => valueOf(m, 'mtls_gateway_store_failover_watch_sentinels', { state })
  return `${at('following')}/${at('refused')}`
}

beforeAll(async () => {
  ;[set, pki] = await Promise.all([startSentinelSet(), createTestPki()])
})

afterAll(async () => {
  for (const g of gateways) await g.gw.close()
  await stopAll(undefined, set, pki)
})

describe('the failover watch at each Sentinel', () => {
  it('a Sentinel refusing +switch-master is warned of once and noted in /readyz, until its ACL grants the channel', async () => {
    const [s0, s1, s2] = set.sentinels as [Peer, Peer, Peer]
    for (const s of set.sentinels) await onSentinel(s.port, 'ACL', 'SETUSER', 'gw', 'on', `>${PASSWORD}`, '+@all', '~*', s === s1 ? 'resetchannels' : 'allchannels')
    const g = await startOpsGateway(pki.dir, gatewayYaml(set.sentinels, `, username: gw, password: "${PASSWORD}"`), { watch: false })
    gateways.push(g)
    expect((await exchangeToken(g.gw.url)).status).toBe(200)
    await eventually(() => warnings(g).length > 0, 20_000, 'the refusal warned of')
    await eventually(async () => (await subscribers(s0.port, 'gw')) === 1 && (await subscribers(s2.port, 'gw')) === 1, 20_000, 'the other Sentinels subscribed')
    const [warning] = warnings(g)
    expect(warning?.problem).toContain(`Sentinel 127.0.0.1:${s1.port} refuses SUBSCRIBE +switch-master (NOPERM`)
    expect(warning?.problem).toContain('store.redis.sentinel.username')
    for (const other of [s0, s2]) expect(warning?.problem).not.toContain(`Sentinel 127.0.0.1:${other.port} refuses`)
    const before = await readyz(g)
    expect(before.status).toBe(200)
    expect(before.notes.filter((n) => n.startsWith('store failover watch: '))).toEqual([expect.stringContaining(`Sentinel 127.0.0.1:${s1.port} refuses SUBSCRIBE +switch-master`)])
    // Two Sentinels followed, one refusing: what an alert reads.
    await eventually(async () => (await watched(g.adminUrl)) === '2/1', 20_000, 'the gauge at 2 following, 1 refused')

    await onSentinel(s1.port, 'ACL', 'SETUSER', 'gw', 'allchannels')
    await eventually(async () => (await subscribers(s1.port, 'gw')) === 1, 40_000, 'the watch subscribed once the channel is granted')
    await eventually(async () => !(await readyz(g)).notes.some((n) => n.startsWith('store failover watch: ')), 20_000, 'the note gone')
    await eventually(async () => (await watched(g.adminUrl)) === '3/0', 20_000, 'the gauge at 3 following, none refused')
    expect(warnings(g)).toHaveLength(1)
    expect(g.lines.join('\n')).not.toContain(PASSWORD)
  }, 120_000)

  it('Sentinels the configured one names are subscribed too', async () => {
    const [s0, s1, s2] = set.sentinels as [Peer, Peer, Peer]
    const g = await startOpsGateway(pki.dir, gatewayYaml([s0], ''), { watch: false })
    gateways.push(g)
    expect((await exchangeToken(g.gw.url)).status).toBe(200)
    await eventually(async () => {
      for (const s of [s0, s1, s2]) if ((await subscribers(s.port, 'default')) !== 1) return false
      return true
    }, 30_000, 'a subscription at each of the three Sentinels (one configured)')
    expect(warnings(g)).toEqual([])
    await eventually(async () => (await watched(g.adminUrl)) === '3/0', 20_000, 'the gauge at 3 following')
  }, 120_000)

  it('--workers 2: each worker subscribes at every Sentinel, warns of the refusal once and notes it; a reload keeps it so', async () => {
    const [s0, s1] = set.sentinels as [Peer, Peer, Peer]
    for (const s of set.sentinels) await onSentinel(s.port, 'ACL', 'SETUSER', 'gww', 'on', `>${PASSWORD}`, '+@all', '~*', s === s1 ? 'resetchannels' : 'allchannels')
    const file = join(pki.dir, 'workers.yaml')
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\n${gatewayYaml([s0], `, username: gww, password: "${PASSWORD}"`)}`)
    const gp = await spawnGateway(file, ['--workers', '2'])
    try {
      const adminUrl = await adminUrlOf(gp)
      const notes = async (): Promise<string[]> => ((JSON.parse((await get(`${adminUrl}/readyz`)).text) as { notes?: string[] }).notes ?? []).filter((n) => n.includes('store failover watch: '))
      await eventually(async () => (await notes()).length === 2, 30_000, 'a note from each worker')
      for (const n of await notes()) expect(n).toMatch(new RegExp(`^worker \\d+: store failover watch: redis store .*Sentinel 127\\.0\\.0\\.1:${s1.port} refuses SUBSCRIBE \\+switch-master \\(NOPERM`))
      const refusals = (): Record<string, unknown>[] => gp.logEntries().filter((e) => e.msg === REFUSED)
      await eventually(() => refusals().length === 2, 30_000, 'a warning from each worker')
      expect(new Set(refusals().map((e) => e.pid)).size).toBe(2)
      // Each worker subscribed at each Sentinel that takes it (s0 configured, s2 discovered), and so did the
      // primary's own store (the console's; it logs no store warnings, as for the memory policy).
      await eventually(async () => (await subscribers(s0.port, 'gww')) === 3 && (await subscribers((set.sentinels[2] as Peer).port, 'gww')) === 3, 30_000, 'both workers and the primary subscribed')
      // The primary's /metrics sums the workers' (the primary's own store serves the console, not requests, and is not counted).
      await eventually(async () => (await watched(adminUrl)) === '4/2', 30_000, 'the primary\'s sum: 2 following and 1 refused per worker')
      // Each worker by its pid (the one its warning carries), and the primary's verdict: one append may
      // make two reloads, so two lines could be one worker's twice.
      const workers = new Set(refusals().map((e) => e.pid))
      const from = gp.output.length
      appendFileSync(file, '# reloaded\n')
      const reloadedBoth = (): boolean => {
        const reloaded = new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid))
        return [...workers].every((pid) => reloaded.has(pid)) && instanceReloads(gp, from) > 0
      }
      await eventually(reloadedBoth, 30_000, 'both workers reloaded, the primary accepting it')
      expect(await notes()).toHaveLength(2)
      expect(refusals()).toHaveLength(2)
      expect(await subscribers(s0.port, 'gww')).toBe(3)
      await eventually(async () => (await watched(adminUrl)) === '4/2', 30_000, 'the same sum after the reload')
      expect(gp.output.join('\n')).not.toContain(PASSWORD)
    } finally {
      await gp.stop('SIGKILL')
    }
  }, 120_000)
})
