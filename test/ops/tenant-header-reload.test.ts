/**
 * A reload to a tenant header the gateway would strip as a header of HTTP's own (here `Host`) is
 * refused as a start would refuse it, in one process and by a `--workers 2` primary, naming the
 * key and why; the last good config keeps serving and the endpoint added in the same edit stays
 * unknown (test/config/tenant-header-name.test.ts covers the rule itself).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml, send } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { flushedBy } from '../support/log-entries.js'
import { childPids, refusedReloadProblems, replaceFile } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'

const OWN = '    tenantHeader: X-Org-Id\n'

/** The same config with the tenant header renamed to Host, and an endpoint `added`. */
const toHost = (yaml: string, port: number, pki: TestPki): string => yaml.replace('tenantHeader: X-Org-Id', 'tenantHeader: Host') + endpointYaml('added', port, clientTls(pki))

async function expectRefusedAndKept(gp: GatewayProcess, config: string, from: number): Promise<void> {
  expect(await refusedReloadProblems(gp, from)).toEqual([
    expect.stringMatching(new RegExp(`^${config}:\\d+:\\d+: endpoints\\[0\\]\\.tenantHeader: cannot be "Host": it addresses the request; name a header of its own, such as X-Gateway-Tenant$`)),
  ])
  for (let i = 0; i < 4; i++) expect((await send(gp.url, `/proxy/partner/kept-${i}`, { headers: { 'x-org-id': 'acme' } })).status).toBe(200)
  expect((await send(gp.url, '/proxy/added/x')).status).toBe(403)
}

describe('serve', () => {
  let pki: TestPki
  let upstream: RunningServer
  let gp: GatewayProcess
  let yaml: string
  beforeAll(async () => {
    pki = await createTestPki()
    upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
    yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), OWN)}`
    replaceFile(join(pki.dir, 'gateway.yaml'), yaml)
    gp = await spawnGateway(join(pki.dir, 'gateway.yaml'))
  }, 120_000)
  afterAll(async () => {
    await gp?.stop('SIGKILL')
    await upstream?.close()
    pki?.cleanup()
  })

  it('refuses a reload that names Host as the tenant header and keeps the last good config', async () => {
    const config = join(pki.dir, 'gateway.yaml')
    expect((await send(gp.url, '/proxy/partner/first')).status).toBe(200)
    const from = gp.output.length
    replaceFile(config, toHost(yaml, upstream.port, pki))
    await expectRefusedAndKept(gp, config, from)
  }, 120_000)
})

describe('serve --workers 2', () => {
  const w = useTwoWorkers({ fields: OWN })

  it('the primary refuses it; no worker tries it, and the instance keeps the last good config', async () => {
    const { gp, config, yaml } = w
    const from = gp.output.length
    replaceFile(config, toHost(yaml, w.upstream.port, w.pki))
    await expectRefusedAndKept(gp, config, from)
    // Each worker writes its lines in batches: read once a later line of each (a call's) is out.
    await flushedBy(gp, childPids(gp.child.pid as number), (tag) => send(gp.url, '/proxy/partner/flush', { headers: { 'x-request-id': tag, 'x-org-id': 'acme' } }))
    expect(gp.logEntries(from).filter((e) => e.msg === 'config reloaded')).toEqual([])
  }, 120_000)
})
