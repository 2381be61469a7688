/**
 * The window after a Sentinel failover in which the old primary still answers as a primary
 * (Sentinel demotes it only at a later look, seconds after the switch). Two gateway replicas per
 * setting — `replicasToAcknowledge` 0 and 1 — exchange assertions at one and replay them at the
 * other through an operator's failover. Each gateway follows the promoted primary as the
 * Sentinels announce it (`+switch-master`), before the old one is demoted (before, it stayed on
 * the old primary until then: reads missed what the other replica wrote on the new one, and a
 * `jti` recorded there without acknowledgement was lost). Every assertion used after both
 * replicas followed is refused as a replay at the other, at once and after the failover settled;
 * with acknowledged writes no replay is ever accepted.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import type { RunningServer } from '../support/tls-server.js'
import { rawClient, startSentinelSet, type SentinelSet } from '../support/redis-servers.js'
import { eventually, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { CALLERS, exchangeToken, partnerEndpointYaml, sentinelRedisYaml, signAssertion, startUpstream, stopAll } from './redis-gateway-support.js'

const FOLLOWED = "the store's Redis is another server than before (restarted or failed over)"

/** Two replicas of one gateway (one key prefix) and what their callers saw. */
interface Pair {
  ack: 0 | 1
  a: OpsGateway
  b: OpsGateway
  /** Assertions acknowledged (200) at one replica: whether both had followed the new primary before, and its bearer. */
  used: { assertion: string; bearer: string; afterFollow: boolean }[]
  /** Replays the other replica accepted (a 200), and whether both had followed before the assertion was first used. */
  acceptedReplays: { afterFollow: boolean }[]
}

let set: SentinelSet
let pki: TestPki
let upstream: RunningServer
const pairs: Pair[] = []

beforeAll(async () => {
  ;[set, pki] = await Promise.all([startSentinelSet(), createTestPki()])
  upstream = await startUpstream(pki)
  for (const ack of [0, 1] as const) {
    const yaml = `store:\n  kind: redis\n  keyPrefix: "switch-${ack}-${randomUUID()}:"\n  redis:\n${sentinelRedisYaml(set)}    replicasToAcknowledge: ${ack}\n${CALLERS}endpoints:\n${partnerEndpointYaml(upstream.port, pki)}`
    const a = await startOpsGateway(pki.dir, yaml, { watch: false })
    const b = await startOpsGateway(pki.dir, yaml, { watch: false })
    pairs.push({ ack, a, b, used: [], acceptedReplays: [] })
  }
})

afterAll(async () => {
  for (const p of pairs) await Promise.all([p.a.gw.close(), p.b.gw.close()])
  await stopAll(undefined, set, pki, upstream)
})

/** The gateway logged that its store reached another server than before: the promoted primary. */
const followed = (g: OpsGateway): boolean => g.lines.some((l) => (JSON.parse(l) as { msg: string }).msg === FOLLOWED)
const bothFollowed = (p: Pair): boolean => followed(p.a) && followed(p.b)

const useBearer = async (g: OpsGateway, bearer: string): Promise<number> => (await send(g.gw.url, '/proxy/partner/x', { headers: { authorization: `Bearer ${bearer}` } })).status

/** An assertion used at `from` and, when acknowledged, replayed at `to`: the replay's status. */
async function useThenReplay(p: Pair, from: OpsGateway, to: OpsGateway): Promise<number | undefined> {
  const afterFollow = bothFollowed(p)
  const assertion = await signAssertion()
  const r = await exchangeToken(from.gw.url, assertion)
  if (r.status !== 200) return undefined
  p.used.push({ assertion, bearer: r.json<{ access_token: string }>().access_token, afterFollow })
  const replay = (await exchangeToken(to.gw.url, assertion)).status
  if (replay === 200) p.acceptedReplays.push({ afterFollow })
  return replay
}

const roleOf = async (port: number): Promise<string> => {
  const c = rawClient(port)
  try {
    return String(((await c.call('ROLE')) as unknown[])[0])
  } finally {
    c.disconnect()
  }
}

describe('Sentinel failover: the old primary still answering', () => {
  it('both replicas follow the promoted primary before the old one is demoted; a jti used at one after that is a replay at the other', async () => {
    for (const p of pairs) for (const [from, to] of [[p.a, p.b], [p.b, p.a]] as const) {
      expect(await eventually(() => useThenReplay(p, from, to), 30_000, 'an exchange before the failover'), `replicasToAcknowledge ${p.ack}`).toBe(401)
    }
    let running = true
    const load = Promise.all(pairs.flatMap((p) => [[p.a, p.b], [p.b, p.a]] as const).map(async ([from, to]) => {
      const p = pairs.find((x) => x.a === from || x.b === from) as Pair
      while (running) await useThenReplay(p, from, to)
    }))
    let old = 0
    try {
      // The window is Redis's own: at its pace a Sentinel demotes the old primary some 10 s after the switch.
      await set.pace('redis')
      old = await set.startFailover()
      await eventually(() => pairs.every(bothFollowed), 40_000, 'every gateway replica to follow the promoted primary')
      // Before, a replica left the old primary only once Sentinel had demoted it.
      expect(await roleOf(old), `the old primary ${old} still a primary when both replicas followed\n${set.history()}`).toBe('master')
      await set.pace('quick')
      const [unacknowledged] = pairs
      if (unacknowledged === undefined) throw new Error('no pair')
      // The old primary is still a primary: what one replica writes now, the other reads.
      for (const [from, to] of [[unacknowledged.a, unacknowledged.b], [unacknowledged.b, unacknowledged.a]] as const) {
        const assertion = await signAssertion()
        const r = await exchangeToken(from.gw.url, assertion)
        expect(r.status).toBe(200)
        expect(await useBearer(to, r.json<{ access_token: string }>().access_token)).toBe(200)
        expect((await exchangeToken(to.gw.url, assertion)).status).toBe(401)
      }
      await set.settled(old)
    } finally {
      running = false
      await load
    }
    for (const p of pairs) {
      const context = `replicasToAcknowledge ${p.ack}\n${set.history()}`
      // Some exchanges ran once both replicas followed: else the checks of them below ran on none.
      expect(p.used.filter((u) => u.afterFollow).length, `exchanges after both followed, ${context}`).toBeGreaterThan(0)
      expect(p.acceptedReplays.filter((r) => r.afterFollow), context).toEqual([])
      if (p.ack === 1) expect(p.acceptedReplays, context).toEqual([])
      // After the failover settled, every assertion used once both replicas followed (all, when acknowledged) is still a replay, its bearer still valid.
      for (const u of p.used.filter((x) => x.afterFollow || p.ack === 1)) {
        expect((await exchangeToken(p.b.gw.url, u.assertion)).status, context).toBe(401)
        expect(await useBearer(p.a, u.bearer), context).toBe(200)
      }
    }
  }, 180_000)
})
