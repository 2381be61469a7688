/**
 * The console's sign-in throttle behind a Service: two gateway processes on one Redis, each
 * serving its own admin listener, count wrong admin tokens from one source address together
 * (20 a minute for the instance, not 20 per replica), and both then refuse that address,
 * right token or wrong, while another address signs in on either; right tokens arriving at once
 * are all let through, however many (only settled wrong ones count). Run with the console
 * opening the store itself and on the runtime's store (caller apps on). Needs the dist build.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/index.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { inOneWindow, times } from '../api/throttle-support.js'
import { adminRequest, CONSOLE_TOKEN } from './console-support.js'

interface Replica {
  gp: GatewayProcess
  console: string
  origin: string
}

async function startReplica(file: string): Promise<Replica> {
  const gp = await spawnGateway(file, [])
  const admin = await adminUrlOf(gp)
  return { gp, console: `${admin}/console/`, origin: admin }
}

const login = async (r: Replica, token: string, localAddress: string): Promise<number> =>
  (await adminRequest(`${r.console}api/login`, { method: 'POST', origin: r.origin, body: { token }, localAddress })).status

describe.each([
  { name: 'the console opens the store itself', callers: '' },
  { name: 'on the runtime\'s store (caller apps on)', callers: 'callers: { required: false }\n' },
])('console sign-in throttle on two replicas sharing Redis: $name', ({ callers }) => {
  const prefix = uniqueRedisPrefix()
  let dir: string
  let a: Replica
  let b: Replica
  let store: Store

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-throttle-replicas-'))
    const file = join(dir, 'gateway.yaml')
    writeFileSync(join(dir, 'admin-token'), CONSOLE_TOKEN)
    writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }
admin: { host: 127.0.0.1, port: 0, token: "\${file:${join(dir, 'admin-token')}}" }
store: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }
${callers}endpoints: []
`)
    ;[a, b] = await Promise.all([startReplica(file), startReplica(file)])
    store = openStore({ kind: 'redis', url: REDIS_URL, keyPrefix: prefix })
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a?.gp.stop(), b?.gp.stop()])
    await store?.close()
    await wipeRedisPrefix(prefix)
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('10 wrong tokens on A and 10 on B from one address use up its minute on both; another address signs in on either', async () => {
    await inOneWindow(async (address) => {
      const statuses: number[] = []
      for (let i = 0; i < 20; i++) statuses.push(await login(i % 2 ? b : a, `wrong-token-number-${i}`, address))
      expect(statuses).toEqual(times(20, 401))
      // One counter for the address's minute, holding the 20 wrong tokens of both replicas.
      const keys = await store.keys(`throttle:console-sign-in:v4_${address}:`)
      expect(keys).toHaveLength(1)
      expect(await store.get(keys[0] as string)).toBe('20')
      expect([await login(a, 'one-more-wrong-token', address), await login(b, 'one-more-wrong-token', address)]).toEqual([429, 429])
      expect([await login(a, CONSOLE_TOKEN, address), await login(b, CONSOLE_TOKEN, address)]).toEqual([429, 429])
    })
    expect([await login(a, CONSOLE_TOKEN, '127.0.0.2'), await login(b, CONSOLE_TOKEN, '127.0.0.2')]).toEqual([200, 200])
  })

  // Before, each sign-in held a place until its token was compared: past 20 at once, right ones got 429.
  it('30 right sign-ins at once from one address on both, after 19 wrong ones (several tabs): every one signs in, none counted', async () => {
    await inOneWindow(async (address) => {
      for (let i = 0; i < 19; i++) expect(await login(i % 2 ? b : a, `wrong-token-number-${i}`, address)).toBe(401)
      expect(await Promise.all(times(30, 0).map((_, i) => login(i % 2 ? b : a, CONSOLE_TOKEN, address)))).toEqual(times(30, 200))
      expect([await login(a, 'the-twentieth-wrong-token', address), await login(b, CONSOLE_TOKEN, address)]).toEqual([401, 429])
    })
  })
})
