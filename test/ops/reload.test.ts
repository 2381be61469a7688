import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { privateKeyPem, type Issued } from '../../src/tls/index.js'
import { eventually, replaceFile, scrape, startOpsGateway, valueOf, type OpsGateway } from './helpers.js'

const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(): Promise<{ pki: TestPki; upstream: RunningServer }> {
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  cleanup.push(() => pki.cleanup(), () => upstream.close())
  return { pki, upstream }
}

async function start(dir: string, yaml: string): Promise<OpsGateway> {
  const g = await startOpsGateway(dir, yaml)
  cleanup.push(() => g.gw.close())
  return g
}

const newClient = (pki: TestPki, cn: string): Promise<Issued> => pki.issue({ subject: `CN=${cn},O=mtls-gateway tests`, issuer: pki.inter, usages: ['clientAuth'] })

interface LoadResult {
  ok: number
  failed: string[]
  subjects: string[]
}

/**
 * Requests in a loop (4 at a time) until `ms` has passed and `settled()` holds (a slow machine
 * may reload late: wait for it, up to a deadline); `during` runs once, a third of the way in.
 * Each loop's last request starts after `settled()`, so it sees the new state.
 */
async function underLoad(url: string, path: string, ms: number, settled: () => boolean, during: () => Promise<void> | void): Promise<LoadResult> {
  const out: LoadResult = { ok: 0, failed: [], subjects: [] }
  const end = Date.now() + ms
  const deadline = end + 30_000
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline && (Date.now() < end || !settled())) {
      try {
        const r = await send(url, path)
        if (r.status === 200) {
          out.ok++
          out.subjects.push(r.json<EchoReply>().clientSubject ?? '')
        } else out.failed.push(`${r.status} ${r.text}`)
      } catch (e) {
        out.failed.push(String(e))
      }
    }
  }
  const trigger = new Promise<void>((resolve, reject) => setTimeout(() => void Promise.resolve(during()).then(resolve, reject), ms / 3))
  await Promise.all([loop(), loop(), loop(), loop(), trigger])
  return out
}

describe('hot reload', () => {
  it('replaces the client certificate and the config under load: no failed request, new certificate used after', async () => {
    const { pki, upstream } = await setup()
    const tls = clientTls(pki)
    const yaml = `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`
    const g = await start(pki.dir, yaml)
    const before = g.gw.ref.current
    const v2 = await newClient(pki, 'bot-runtime-v2')
    const result = await underLoad(g.gw.url, '/proxy/partner/load', 2500, () => g.gw.ref.current !== before, () => {
      replaceFile(pki.file('client.crt'), v2.pem)
      replaceFile(pki.file('client.key'), privateKeyPem(v2))
      replaceFile(join(pki.dir, 'gateway.yaml'), yaml + endpointYaml('added', upstream.port, tls))
    })
    expect(result.failed).toEqual([])
    // Requests ran on both sides of the reload (no throughput figure: the machine may be slow).
    expect(result.subjects[0]).toContain('CN=bot-runtime,')
    const after = await eventually(async () => {
      const r = await send(g.gw.url, '/proxy/added/after')
      return r.status === 200 && r.json<EchoReply>()
    }, 20_000, 'the reloaded config')
    expect(after.clientSubject).toContain('CN=bot-runtime-v2')
    expect(upstream.stats.subjects).toContain('bot-runtime-v2')
    expect(result.subjects.at(-1)).toContain('CN=bot-runtime-v2')
    // The old snapshot's pool is closed once the requests pinned to it are done.
    expect(g.gw.ref.current).not.toBe(before)
    await eventually(() => (before.endpoints.get('partner')?.upstream.dispatcher as unknown as { closed: boolean }).closed, 20_000, 'the old pool to close')
    const m = await scrape(g.adminUrl)
    expect(valueOf(m, 'mtls_gateway_config_reloads_total', { result: 'success' })).toBe(1)
    expect(valueOf(m, 'mtls_gateway_config_reloads_total', { result: 'failure' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })).toBe(result.ok)
  })

  it('picks up a Kubernetes Secret update (the ..data symlink swap) under load', async () => {
    const { pki, upstream } = await setup()
    const secret = join(pki.dir, 'secret')
    const version = (name: string, client: Issued): void => {
      mkdirSync(join(secret, name), { recursive: true })
      writeFileSync(join(secret, name, 'tls.crt'), client.pem + pki.inter.pem)
      writeFileSync(join(secret, name, 'tls.key'), privateKeyPem(client))
      writeFileSync(join(secret, name, 'ca.crt'), pki.root.pem)
    }
    version('..2026_01_01_00_00_00.000000001', pki.client)
    symlinkSync('..2026_01_01_00_00_00.000000001', join(secret, '..data'))
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(`..data/${f}`, join(secret, f))
    const g = await start(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, { dir: secret })}`)
    const before = g.gw.ref.current
    const v3 = await newClient(pki, 'bot-runtime-v3')
    const result = await underLoad(g.gw.url, '/proxy/partner/k8s', 2500, () => g.gw.ref.current !== before, () => {
      // What kubelet's atomic writer does: new timestamped dir, new ..data link renamed over the old one.
      version('..2026_01_02_00_00_00.000000002', v3)
      symlinkSync('..2026_01_02_00_00_00.000000002', join(secret, '..data_tmp'))
      renameSync(join(secret, '..data_tmp'), join(secret, '..data'))
      rmSync(join(secret, '..2026_01_01_00_00_00.000000001'), { recursive: true })
    })
    expect(result.failed).toEqual([])
    expect(result.subjects[0]).toContain('CN=bot-runtime,')
    const after = await eventually(async () => {
      const r = await send(g.gw.url, '/proxy/partner/after')
      return r.status === 200 && r.json<EchoReply>().clientSubject?.includes('bot-runtime-v3') && r.json<EchoReply>()
    }, 20_000, 'the new Secret version')
    expect(after.clientSubject).toContain('CN=bot-runtime-v3')
    expect(upstream.stats.subjects).toContain('bot-runtime-v3')
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' })).toBe(1)
  })

  it('a bad reload (key of another certificate) keeps serving with the old bundle and counts the failure', async () => {
    const { pki, upstream } = await setup()
    const tls = clientTls(pki)
    const g = await start(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    const stranger = await newClient(pki, 'stranger')
    replaceFile(pki.file('client.key'), privateKeyPem(stranger))
    const m = await eventually(async () => {
      const s = await scrape(g.adminUrl)
      return valueOf(s, 'mtls_gateway_config_reloads_total', { result: 'failure' }) === 1 && s
    }, 20_000, 'the failed reload')
    expect(valueOf(m, 'mtls_gateway_config_reloads_total', { result: 'success' })).toBe(0)
    const failure = g.lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[]; level: string }).find((l) => l.msg === 'config reload failed; keeping the last good config')
    expect(failure?.level).toBe('error')
    expect(failure?.problems?.join('\n')).toContain('private key does not match the client certificate')
    // The first upstream connection, made after the bad files landed, presents the old bundle held in memory.
    const r = await send(g.gw.url, '/proxy/partner/still')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=bot-runtime,')
    expect((await scrape(g.adminUrl)).find((s) => s.name === 'mtls_gateway_config_reloads_total' && s.labels.result === 'failure')?.value).toBe(1)
  })

  // The load-time check that every {{tenant}} can be filled (session 8) runs on reload as at a
  // fresh start: a field naming a tenant on an endpoint without tenancy is refused at its
  // file:line:column, counted, and the gateway keeps answering with the last good config.
  it('refuses a reload whose field uses {{tenant}} on an endpoint without tenancy, as a fresh start would', async () => {
    const { pki, upstream } = await setup()
    const tls = clientTls(pki)
    const g = await start(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls, '    fields: [{ type: header, key: X-Org, value: "acme" }]\n')}`)
    const before = await send(g.gw.url, '/proxy/partner/before')
    expect(before.status).toBe(200)
    expect(before.json<EchoReply>().headers['x-org']).toBe('acme')
    const file = join(pki.dir, 'gateway.yaml')
    replaceFile(file, `endpoints:\n${endpointYaml('partner', upstream.port, tls, '    fields: [{ type: header, key: X-Org, value: "{{tenant}}" }]\n')}`)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'failure' }) === 1, 20_000, 'the refused reload')
    const failure = g.lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).find((l) => l.msg === 'config reload failed; keeping the last good config')
    expect(failure?.problems).toEqual([`${file}:6:49: endpoints[0].fields[0].value: uses {{tenant}}, but endpoint "partner" has no tenancy, so no request names a tenant (put {tenant} in its URL, or set tenancy: true on its profile)`])
    const after = await send(g.gw.url, '/proxy/partner/after')
    expect(after.status).toBe(200)
    expect(after.json<EchoReply>().headers['x-org']).toBe('acme')
    expect(valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' })).toBe(0)
  })

  // A config that names a file not there yet (the kubelet syncs a ConfigMap and a Secret
  // separately; an operator edits the config before copying the certificate) is refused. When
  // the file then arrives, a fresh start would succeed, so the running gateway reloads too: the
  // refused config's files are watched, not only the last good one's.
  it('reloads when a file the refused config names arrives after the config', async () => {
    const { pki, upstream } = await setup()
    const tls = clientTls(pki)
    const g = await start(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    const next = await newClient(pki, 'arrives-later')
    replaceFile(join(pki.dir, 'gateway.yaml'), `endpoints:\n${endpointYaml('partner', upstream.port, { ...tls, cert: pki.file('later-client.crt'), key: pki.file('later-client.key') })}`)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'failure' }) === 1, 20_000, 'the refused reload')
    replaceFile(pki.file('later-client.key'), privateKeyPem(next))
    replaceFile(pki.file('later-client.crt'), next.pem)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 20_000, 'the reload once the files arrived')
    const r = await send(g.gw.url, '/proxy/partner/after')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().clientSubject).toContain('CN=arrives-later,')
  })

  it('reloads when a ${file:} reference of the refused config arrives after the config', async () => {
    const { pki, upstream } = await setup()
    const tls = clientTls(pki)
    const g = await start(pki.dir, `endpoints:\n${endpointYaml('partner', upstream.port, tls)}`)
    replaceFile(join(pki.dir, 'gateway.yaml'), `endpoints:\n${endpointYaml('partner', upstream.port, tls, '    fields: [{ type: header, key: X-Org, value: "${file:org-secret}" }]\n')}`)
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'failure' }) === 1, 20_000, 'the refused reload')
    replaceFile(join(pki.dir, 'org-secret'), 'acme-corp')
    await eventually(async () => valueOf(await scrape(g.adminUrl), 'mtls_gateway_config_reloads_total', { result: 'success' }) === 1, 20_000, 'the reload once the secret arrived')
    const r = await send(g.gw.url, '/proxy/partner/after')
    expect(r.status).toBe(200)
    expect(r.json<EchoReply>().headers['x-org']).toBe('acme-corp')
  })
})
