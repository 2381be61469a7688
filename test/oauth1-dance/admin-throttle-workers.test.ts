/**
 * A gateway whose only use of the store is the count of wrong `callers.adminToken` attempts (no
 * caller apps, no per-user profile: profile tests only) counts them in the store too (a `callers`
 * section opens it), so `--workers 2` allows an address 20 wrong tokens a minute, not 20 per
 * worker.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { freshLoopback, inOneWindow, requestFrom } from '../api/throttle-support.js'

const ADMIN = 'operator-token-of-enough-length-0001'
let pki: TestPki
let gp: GatewayProcess | undefined

/** POST /gateway/oauth1/bench/test with `token`, on a connection of its own from `from`: the status. */
async function profileTest(url: string, from: string, token: string): Promise<number> {
  return (await requestFrom(`${url}/gateway/oauth1/bench/test`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, localAddress: from })).status
}

beforeAll(async () => {
  pki = await createTestPki()
  const tls = clientTls(pki)
  const file = join(pki.dir, 'gateway.yaml')
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nstore: { kind: sqlite, file: ${join(pki.dir, 'state.db')} }\n` +
      `callers: { adminToken: "${ADMIN}" }\n` +
      `profiles:\n  - { name: bench, consumerKey: ck, consumerSecret: cs, requestTokenUrl: "https://api.partner.test:1/request", token: { mode: static, token: t, tokenSecret: s } }\n` +
      `endpoints:\n${endpointYaml('partner', 1, tls, '    profile: bench\n')}`,
  )
  gp = await spawnGateway(file, ['--workers', '2'])
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki?.cleanup()
})

describe('callers.adminToken without caller apps or per-user tokens, --workers 2', () => {
  it('an address gets 20 wrong tokens a minute across both workers, then 429; another address is not affected', async () => {
    const url = (gp as GatewayProcess).url
    await inOneWindow(async (from) => {
      // Each on a connection of its own: the primary hands them to both workers in turn.
      const statuses: number[] = []
      for (let i = 0; i < 25; i++) statuses.push(await profileTest(url, from, `wrong-token-${i}`))
      expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401))
      expect(statuses.slice(20)).toEqual(Array(5).fill(429))
      expect(await profileTest(url, freshLoopback(), 'another-wrong-token')).toBe(401)
    })
  })
})
