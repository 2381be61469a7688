/**
 * The TLS files besides endpoint bundles have an expiry metric an alert can watch before they
 * fail (README "Metrics"): mtls_gateway_tls_file_expiry_timestamp_seconds, one sample per config
 * key — the listeners' `cert` and `clientCa`, `tracing.otlp.tls` and `store.redis.tls` `ca` and
 * `cert` — never the path. A certificate file counts from its first certificate to expire (the
 * leaf or an intermediate it sends), a CA file from its last (until then it anchors something).
 * A renewed file moves the sample on the reload its change brings; `--workers` exports the same.
 * mtls_gateway_tls_file_not_before_timestamp_seconds says when each starts working: a
 * certificate file when its last certificate becomes valid, a CA file when its first does.
 */
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../src/cli/gateway-root.js'
import { createLog, createOps } from '../../src/ops/index.js'
import type { Issued } from '../../src/tls/index.js'
import { prepareParityPki, writeParityConfig, type ParityTarget } from '../support/parity-config.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf } from '../support/process.js'
import { clientTls } from '../support/pki.js'
import { eventually, parseMetrics, replaceFile, samples, scrape, spawnTwoWorkers } from './helpers.js'

const DAY = 86_400_000
const METRIC = 'mtls_gateway_tls_file_expiry_timestamp_seconds'
const NOT_BEFORE = 'mtls_gateway_tls_file_not_before_timestamp_seconds'
let pki: TestPki
/** Each file of the config by key, and the Unix time the metric must show for it. */
const paths: Partial<Record<ParityTarget, string>> = {}
const expected: Record<string, number> = {}
/** The Unix time the not-before metric must show, by key. */
const expectedStart: Record<string, number> = {}
/** A CA issued to replace listen.tls.clientCa's. */
let renewedCa: Issued

const seconds = (c: Issued): number => Math.floor(Date.parse(new X509Certificate(c.pem).validTo) / 1000)
const inDays = (days: number): Date => new Date(Date.now() + days * DAY)

beforeAll(async () => {
  pki = await createTestPki()
  prepareParityPki(pki)
  const ca = (name: string, days: number): Promise<Issued> => pki.issue({ subject: `CN=${name}`, ca: true, notAfter: inDays(days) })
  const server = { keys: pki.server.keys, usages: ['serverAuth' as const], names: ['localhost'] }
  // listen.tls.cert: its leaf expires before the intermediate sent with it.
  const leaf = await pki.issue({ subject: 'CN=listener', issuer: pki.inter, ...server, notAfter: inDays(12) })
  paths['listen.tls.cert'] = pki.write('listener.crt', leaf.pem + pki.inter.pem)
  expected['listen.tls.cert'] = seconds(leaf)
  // admin.tls.cert: the intermediate it sends expires first.
  const shortInter = await pki.issue({ subject: 'CN=Short Inter', issuer: pki.root, ca: true, notAfter: inDays(40) })
  const adminLeaf = await pki.issue({ subject: 'CN=admin', issuer: shortInter, ...server, notAfter: inDays(39 + 60) })
  paths['admin.tls.cert'] = pki.write('admin.crt', adminLeaf.pem + shortInter.pem)
  expected['admin.tls.cert'] = seconds(shortInter)
  // listen.tls.clientCa: a rotation, the old CA kept beside the new: the new one's end counts.
  const [oldCa, newCa] = [await ca('Old Caller CA', 10), await ca('New Caller CA', 70)]
  paths['listen.tls.clientCa'] = pki.write('callers-ca.crt', oldCa.pem + newCa.pem)
  expected['listen.tls.clientCa'] = seconds(newCa)
  expected['admin.tls.clientCa'] = seconds(pki.root)
  for (const [key, days] of [['tracing.otlp.tls.ca', 80], ['store.redis.tls.ca', 90]] as const) {
    const c = await ca(key, days)
    paths[key] = pki.write(`${key}.crt`, c.pem)
    expected[key] = seconds(c)
  }
  for (const [key, days] of [['tracing.otlp.tls.cert', 20], ['store.redis.tls.cert', 25]] as const) {
    const c = await pki.issue({ subject: `CN=${key}`, issuer: pki.inter, keys: pki.client.keys, usages: ['clientAuth'], notAfter: inDays(days) })
    paths[key] = pki.write(`${key}.crt`, c.pem)
    expected[key] = seconds(c)
  }
  // Starts: a certificate file's last certificate to become valid, a CA file's first.
  const startsPem = (pem: string): number => Math.floor(Date.parse(new X509Certificate(pem).validFrom) / 1000)
  const starts = (c: Issued): number => startsPem(c.pem)
  for (const key of Object.keys(expected)) expectedStart[key] = starts(pki.root)
  Object.assign(expectedStart, { 'listen.tls.cert': Math.max(starts(leaf), starts(pki.inter)), 'admin.tls.cert': Math.max(starts(adminLeaf), starts(shortInter)), 'listen.tls.clientCa': Math.min(starts(oldCa), starts(newCa)) })
  // tracing.otlp.tls.cert: issued for next week (a start warns and goes on; the gauge says when it starts working).
  const early = await pki.issue({ subject: 'CN=early', issuer: pki.inter, keys: pki.client.keys, usages: ['clientAuth'], notBefore: inDays(7), notAfter: inDays(20) })
  paths['tracing.otlp.tls.cert'] = pki.write('tracing-early.crt', early.pem)
  expected['tracing.otlp.tls.cert'] = seconds(early)
  expectedStart['tracing.otlp.tls.cert'] = starts(early)
  for (const key of ['tracing.otlp.tls.ca', 'store.redis.tls.ca', 'store.redis.tls.cert'] as const) expectedStart[key] = startsPem(readFileSync(paths[key] as string, 'utf8'))
  renewedCa = await ca('Renewed Caller CA', 15)
})
afterAll(() => pki.cleanup())

describe('TLS file expiry metric', () => {
  it('one sample per config key with its end of validity (and its start, in the not-before gauge); a renewed file moves it on reload', async () => {
    const dir = join(pki.dir, 'run')
    mkdirSync(dir)
    const config = writeParityConfig(pki, dir, { paths, store: 'redis' })
    const ops = createOps({ log: createLog({ destination: { write: () => true } }), debounceMs: 100, signals: false })
    const gw = await startGateway({ configFile: config, ops })
    try {
      const exported = async (): Promise<Record<string, unknown>[]> => samples(parseMetrics(await ops.metrics.registry.metrics()), METRIC)
      const want = (values: Record<string, number>): Record<string, unknown>[] =>
        Object.entries(values)
          .map(([key, value]) => ({ labels: { key }, value }))
          .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)))
      expect(await exported()).toEqual(want(expected))
      expect(JSON.stringify(await exported())).not.toContain(pki.dir)
      expect(samples(parseMetrics(await ops.metrics.registry.metrics()), NOT_BEFORE)).toEqual(want(expectedStart))
      const before = gw.ref.current
      replaceFile(paths['listen.tls.clientCa'] as string, renewedCa.pem)
      await eventually(() => gw.ref.current !== before, 20_000, 'the reload')
      expect(await exported()).toEqual(want({ ...expected, 'listen.tls.clientCa': seconds(renewedCa) }))
    } finally {
      await gw.close()
    }
  })

  it('with --workers 2, the instance exports the same samples (the same files in every worker)', async () => {
    const dir = join(pki.dir, 'workers')
    mkdirSync(dir)
    const listen = `{ host: 127.0.0.1, port: 0, tls: { cert: ${paths['listen.tls.cert']}, key: ${pki.file('server.key')}, clientCa: ${pki.file('root.crt')} } }`
    // The endpoint's upstream is never called: only the listener's files matter here.
    const { gp } = await spawnTwoWorkers(dir, `listen: ${listen}\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', 1, clientTls(pki))}`)
    try {
      const adminUrl = await adminUrlOf(gp)
      const want = [{ labels: { key: 'listen.tls.cert' }, value: expected['listen.tls.cert'] }, { labels: { key: 'listen.tls.clientCa' }, value: seconds(pki.root) }]
      await eventually(async () => JSON.stringify(samples(await scrape(adminUrl), METRIC)) === JSON.stringify(want), 30_000, 'both workers\' samples')
      expect(samples(await scrape(adminUrl), METRIC)).toEqual(want)
    } finally {
      await gp.stop('SIGKILL')
    }
  })
})
