/**
 * A CRL has a validity period like a certificate (thisUpdate … nextUpdate), and OpenSSL refuses
 * every server while a CRL it holds is outside it. That arrives with time, so it is handled like
 * an expired client certificate: only that endpoint degrades (502 `server_crl_not_valid`, without
 * dialling), `mtls_gateway_endpoint_degraded` says so, `check` fails naming the file and date, and
 * a fresh CRL put in place by a reload restores the endpoint. Before, `check` passed, nothing
 * showed it, and every call dialled the backend and failed with `upstream_cert_untrusted`.
 */
import 'reflect-metadata'
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as x509 from '@peculiar/x509'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Issued } from '../../src/tls/index.js'
import { bundleValidity, loadBundle } from '../../src/tls/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { MAIN } from '../support/process.js'
import { replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from '../ops/helpers.js'
import { assertDistFresh } from '../support/dist-fresh.js'

const THIS_UPDATE = new Date('2021-01-01T00:00:00Z')
const EXPIRED = new Date('2021-01-08T00:00:00Z')
const FAR = new Date('2999-01-01T00:00:00Z')

let pki: TestPki
let upstream: RunningServer
const stops: (() => Promise<unknown>)[] = []

async function crl(issuer: Issued, thisUpdate: Date, nextUpdate: Date): Promise<string> {
  const c = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate,
    nextUpdate,
    entries: [],
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    signingKey: issuer.keys.privateKey,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey)],
  })
  return x509.PemConverter.encode(c.rawData, 'X509 CRL') + '\n'
}

/** Writes the intermediate's and the root's CRLs valid until `until` (one file each: Node reads one CRL per string); returns their paths. */
async function writeCrls(name: string, until: Date): Promise<string[]> {
  return [pki.write(`${name}-inter.crl`, await crl(pki.inter, THIS_UPDATE, until)), pki.write(`${name}-root.crl`, await crl(pki.root, THIS_UPDATE, until))]
}

const tls = (crlFiles: string[]): Record<string, string | string[]> => ({ cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: pki.file('inter.crt'), roots: pki.file('root.crt'), crl: crlFiles })
const yaml = (crlFiles: string[]): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${endpointYaml('revoking', upstream.port, tls(crlFiles))}${endpointYaml('plain', upstream.port, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki('p256')
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
})

afterAll(async () => {
  for (const stop of stops) await stop()
  await upstream?.close()
  pki?.cleanup()
})

describe('a CRL outside its validity period degrades its endpoint only', () => {
  it('validity names the CRL past its nextUpdate, and one before its thisUpdate, at any chosen instant', async () => {
    const files = await writeCrls('unit', EXPIRED)
    const { bundle } = loadBundle({ cert: pki.file('client.crt'), key: pki.file('client.key'), intermediates: [pki.file('inter.crt')], roots: [pki.file('root.crt')], clientRoots: [], systemRoots: false, minVersion: 'TLSv1.2', pins: [], crl: files })
    const v = bundleValidity(bundle as NonNullable<typeof bundle>, { systemRoots: false })
    // The test certificates are issued now: only the CRLs' faults are looked at here.
    const crlFaults = (at: string): ReturnType<typeof v.faults> => v.faults(Date.parse(at)).filter((f) => f.field === 'crl')
    expect(crlFaults('2021-01-05T00:00:00Z')).toEqual([])
    const after = crlFaults('2021-01-09T00:00:00Z')
    expect(after.map((f) => [f.reason, f.field])).toEqual([['server_crl_not_valid', 'crl'], ['server_crl_not_valid', 'crl']])
    expect(after[0]?.msg).toContain('expired on 2021-01-08T00:00:00.000Z (its nextUpdate)')
    expect(crlFaults('2020-12-31T00:00:00Z')[0]?.msg).toContain('is not valid before 2021-01-01T00:00:00.000Z (its thisUpdate)')
  })

  let g: OpsGateway
  let dir: string
  it('serve: 502 server_crl_not_valid without dialling, the metric, the other endpoint serves; a fresh CRL by reload restores it', async () => {
    dir = join(pki.dir, 'gw')
    mkdirSync(dir)
    const expired = await writeCrls('expired', EXPIRED)
    g = await startOpsGateway(dir, yaml(expired), { watch: false })
    stops.push(() => g.gw.close())
    const before = upstream.stats.handshakes
    const r = await send(g.gw.url, '/proxy/revoking/x')
    expect(r.status, r.text).toBe(502)
    expect(r.json<{ errors: { msg: string }[] }>().errors[0]?.msg).toMatch(/^endpoint "revoking": the CRL of ".*Test Intermediate CA.*" \(.*expired-inter\.crl\) expired on 2021-01-08T00:00:00\.000Z/)
    expect(upstream.stats.handshakes).toBe(before)
    expect((await send(g.gw.url, '/proxy/plain/x')).status).toBe(200)
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_endpoint_degraded', { endpoint: 'revoking', reason: 'server_crl_not_valid' })).toBe(1)
    expect(valueOf(m, 'mtls_gateway_endpoint_degraded', { endpoint: 'plain', reason: 'server_crl_not_valid' })).toBe(0)
    // The date the degradation arrives at, for an alert before it: the endpoint's earliest nextUpdate; none without a CRL.
    expect(valueOf(m, 'mtls_gateway_crl_next_update_timestamp_seconds', { endpoint: 'revoking' })).toBe(EXPIRED.getTime() / 1000)
    expect(m.filter((s) => s.name === 'mtls_gateway_crl_next_update_timestamp_seconds').map((s) => s.labels.endpoint)).toEqual(['revoking'])
    replaceFile(join(dir, 'gateway.yaml'), yaml(await writeCrls('fresh', FAR)))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 2 })
    const again = await send(g.gw.url, '/proxy/revoking/x')
    expect(again.status, again.text).toBe(200)
    const fresh = await scrape(g.adminUrl)
    expect(valueOf(fresh, 'mtls_gateway_endpoint_degraded', { endpoint: 'revoking', reason: 'server_crl_not_valid' })).toBe(0)
    expect(valueOf(fresh, 'mtls_gateway_crl_next_update_timestamp_seconds', { endpoint: 'revoking' })).toBe(FAR.getTime() / 1000)
  })

  it('check exits 1 naming the CRL file and its date', async () => {
    assertDistFresh()
    const config = join(pki.dir, 'check.yaml')
    const crls = await writeCrls('check', EXPIRED)
    writeFileSync(config, yaml(crls))
    const r = await promisify(execFile)(process.execPath, [MAIN, 'check', '--config', config]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    )
    expect(r.code).toBe(1)
    // At crl's line and column in the config, naming the CRL files (before: their names in place of the config's, no line).
    const line = yaml(crls).split('\n').findIndex((l) => l.startsWith('      crl: ')) + 1
    expect(r.stderr).toContain(`${config}:${line}:12: endpoints[0].tls.crl: ${crls.join(', ')}: endpoint "revoking": the CRL of `)
    expect(r.stderr).toContain('expired on 2021-01-08T00:00:00.000Z (its nextUpdate)')
  })
})

describe('a CRL file holding several CRLs', () => {
  it('every CRL of the file is used, not only the first (one file for the intermediate and the root)', async () => {
    const dir = join(pki.dir, 'one-file')
    mkdirSync(dir)
    const file = pki.write('both.crl', (await crl(pki.inter, THIS_UPDATE, FAR)) + (await crl(pki.root, THIS_UPDATE, FAR)))
    const g = await startOpsGateway(dir, yaml([file]), { watch: false })
    stops.push(() => g.gw.close())
    const r = await send(g.gw.url, '/proxy/revoking/x')
    expect(r.status, r.text).toBe(200)
  })
})
