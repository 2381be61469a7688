/**
 * `certificate_expiry_timestamp_seconds{kind="server_root_in_use"}`: the expiry of the configured
 * server root the partner's chain actually reaches. The partner here serves a chain from the
 * older of two roots in tls.roots (beside the test root the backend's client CA needs):
 * `server_root` keeps saying when the endpoint degrades (the last root to expire), while the
 * root in use says when calls will fail — before any call the last root, after a call the older
 * one, kept across a hot reload, and the same with `--workers 2` (min over workers).
 */
import { X509Certificate } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, DEFAULT_SERVER_NAMES, type TestPki } from '../support/pki.js'
import { eventually, scrape, startOpsGateway, valueOf, type OpsGateway, type Sample } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'

const DAY = 86_400_000
const roots: { older?: string; newer?: string } = {}

/** The partner's server certificate issued by an older root; tls.roots (root.crt) = test root + older + newer. */
async function olderRootPartner(pki: TestPki): Promise<void> {
  const older = await pki.issue({ subject: 'CN=Older Partner Root', kind: 'p256', ca: true, notAfter: new Date(Date.now() + 10 * DAY) })
  const newer = await pki.issue({ subject: 'CN=Newer Partner Root', kind: 'p256', ca: true, notAfter: new Date(Date.now() + 300 * DAY) })
  const server = await pki.issue({ subject: 'CN=api.partner.test', issuer: older, usages: ['serverAuth'], names: DEFAULT_SERVER_NAMES })
  const pair = pki.writePair('older-server', server)
  pki.write('server-chain.crt', readFileSync(pair.cert, 'utf8'))
  pki.write('server.key', readFileSync(pair.key, 'utf8'))
  // The backend's client CA is root.crt too: the test root stays in it (the gateway's client chain).
  pki.write('root.crt', pki.root.pem + older.pem + newer.pem)
  Object.assign(roots, { older: older.pem, newer: newer.pem })
}

const w = useTwoWorkers({ prepare: olderRootPartner })
const unix = (pem: string | undefined): number => Math.floor(Date.parse(new X509Certificate(pem ?? '').validTo) / 1000)
const expiry = (m: Sample[], kind: string): number | undefined => valueOf(m, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: 'partner', kind })

describe('the server root in use, one process', () => {
  let g: OpsGateway
  beforeAll(async () => {
    // Its own directory: the --workers instance reloads <pki.dir>/gateway.yaml.
    const dir = join(w.pki.dir, 'one-process')
    mkdirSync(dir)
    g = await startOpsGateway(dir, `endpoints:\n${endpointYaml('partner', w.upstream.port, clientTls(w.pki))}`, { watch: false })
  })
  afterAll(async () => {
    await g?.gw.close()
  })

  it('is the last root before any handshake, the older root its chain reached after one, and stays so after a hot reload', async () => {
    const before = await scrape(g.adminUrl)
    expect(expiry(before, 'server_root')).toBe(unix(roots.newer))
    expect(expiry(before, 'server_root_in_use')).toBe(unix(roots.newer))
    expect((await send(g.gw.url, '/proxy/partner/a')).status).toBe(200)
    const after = await scrape(g.adminUrl)
    expect(expiry(after, 'server_root_in_use')).toBe(unix(roots.older))
    expect(expiry(after, 'server_root')).toBe(unix(roots.newer))
    expect(await g.gw.ops?.reload('test')).toEqual({ ok: true, endpoints: 1 })
    expect(expiry(await scrape(g.adminUrl), 'server_root_in_use')).toBe(unix(roots.older))
    expect((await send(g.gw.url, '/proxy/partner/b')).status).toBe(200)
    expect(expiry(await scrape(g.adminUrl), 'server_root_in_use')).toBe(unix(roots.older))
  })
})

describe('the server root in use, serve --workers 2', () => {
  it('is the last root before any handshake, then the older root (min over workers), also after SIGHUP', async () => {
    const { gp, admin } = w
    expect(expiry(await scrape(admin), 'server_root_in_use')).toBe(unix(roots.newer))
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => send(gp.url, `/proxy/partner/w${i}`)))
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200))
    const m = await scrape(admin)
    expect(expiry(m, 'server_root_in_use')).toBe(unix(roots.older))
    expect(expiry(m, 'server_root')).toBe(unix(roots.newer))
    const reloads = gp.logEntries().filter((e) => e.msg === 'config reloaded').length
    gp.child.kill('SIGHUP')
    await eventually(() => gp.logEntries().filter((e) => e.msg === 'config reloaded').length >= reloads + 2, 60_000, 'both workers to reload')
    expect(expiry(await scrape(admin), 'server_root_in_use')).toBe(unix(roots.older))
  })
})
