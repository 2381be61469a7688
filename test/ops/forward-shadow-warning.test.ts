/**
 * Two endpoints on one host and port with the same pathPrefix (none, say): forward-proxy and
 * CONNECT requests always go to the first, so the second is reachable in route mode only. The
 * gateway says so when it adopts such a config (start and reload), naming both; endpoints told
 * apart by pathPrefix, or on other hosts, are not named.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTlsYaml, createTestPki, type TestPki } from '../support/pki.js'
import { startOpsGateway, type OpsGateway } from './helpers.js'

let pki: TestPki
let g: OpsGateway

const endpoint = (name: string, url: string, extra = ''): string =>
  `  - name: ${name}\n    url: ${url}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}    tls: ${clientTlsYaml(pki)}\n`
const yaml = (distinct: boolean): string =>
  'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n' +
  endpoint('general', 'https://api.partner.test:8443/a') +
  endpoint('billing', 'https://api.partner.test:8443/b', distinct ? '    pathPrefix: /b\n' : '') +
  endpoint('elsewhere', 'https://other.partner.test:8443/a') +
  endpoint('payments', 'https://api.partner.test:8443/p', '    pathPrefix: /p\n')

const shadowWarnings = (from = 0): Record<string, unknown>[] =>
  g.lines.slice(from).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => typeof e.msg === 'string' && e.msg.startsWith('endpoint never chosen for forward-proxy'))

beforeAll(async () => {
  pki = await createTestPki()
  g = await startOpsGateway(pki.dir, yaml(false), { watch: false })
})

afterAll(async () => {
  await g?.gw.close()
  pki?.cleanup()
})

describe('endpoints forward mode cannot tell apart', () => {
  it('are one warning at start naming the unreachable one, the one that takes its requests and the host', () => {
    expect(shadowWarnings().map((e) => [e.level, e.endpoint, e.shadowedBy, e.host])).toEqual([['warn', 'billing', 'general', 'api.partner.test:8443']])
  })

  it('a reload that gives it a pathPrefix of its own: no warning', async () => {
    const before = g.lines.length
    writeFileSync(join(pki.dir, 'gateway.yaml'), yaml(true))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    expect(g.lines.length).toBeGreaterThan(before)
    expect(shadowWarnings(before)).toEqual([])
  })
})
