/**
 * `serve --workers 2`: two endpoints on one upstream host:port swap client certificates at a
 * SIGHUP (alice's becomes bob's and bob's alice's): the case where a pool or cached TLS session
 * kept across the reload would present a certificate that is still valid, only another
 * endpoint's. Once both workers have reloaded, every request (each on a new upstream connection,
 * which resumes its bundle's session when it can) presents its endpoint's new certificate.
 */
import { writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { send } from '../support/gateway.js'
import { createTestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply } from '../support/tls-server.js'
import { eventually, spawnTwoWorkers } from './helpers.js'

describe('--workers 2: a SIGHUP swapping two endpoints\' certificates', () => {
  it('after the reload of both workers, each endpoint presents its new certificate, never a resumed session of the other\'s', async () => {
    const pki = await createTestPki()
    const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    const one = pki.writePair('one', await pki.issue({ subject: 'CN=one', issuer: pki.inter, usages: ['clientAuth'] }))
    const two = pki.writePair('two', await pki.issue({ subject: 'CN=two', issuer: pki.inter, usages: ['clientAuth'] }))
    const ep = (name: string, pair: { cert: string; key: string }): string =>
      `  - name: ${name}\n    url: https://api.partner.test:${upstream.port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n    timeouts: { keepAlive: 1ms }\n    tls: { cert: ${pair.cert}, key: ${pair.key}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
    const yaml = (a: typeof one, b: typeof one): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${ep('alice', a)}${ep('bob', b)}`
    const { gp, config } = await spawnTwoWorkers(pki.dir, yaml(one, two))
    try {
      const subjects = async (n: number): Promise<string[]> => {
        const out: string[] = []
        for (let i = 0; i < n; i++) {
          for (const name of ['alice', 'bob']) {
            const r = await send(gp.url, `/proxy/${name}/x`)
            expect(r.status, r.text).toBe(200)
            out.push(`${name}=${r.json<EchoReply>().clientSubject ?? ''}`)
          }
        }
        return out
      }
      expect(new Set(await subjects(10))).toEqual(new Set(['alice=CN=one', 'bob=CN=two']))
      const resumedBefore = upstream.stats.resumed
      expect(resumedBefore).toBeGreaterThan(0)
      writeFileSync(config, yaml(two, one))
      const from = gp.output.length
      gp.child.kill('SIGHUP')
      await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 60_000, 'both workers reloaded')
      expect(new Set(await subjects(12))).toEqual(new Set(['alice=CN=two', 'bob=CN=one']))
      // The new pools resumed their own sessions too.
      expect(upstream.stats.resumed).toBeGreaterThan(resumedBefore)
    } finally {
      await gp.stop('SIGKILL')
      await upstream.close()
      pki.cleanup()
    }
  }, 120_000)
})
