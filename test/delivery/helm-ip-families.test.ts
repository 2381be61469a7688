/**
 * IPv6 pod networks: the chart's listeners bind "::" (gateway.listenHost), which the gateway binds
 * dual-stack, and both Services take ipFamilyPolicy / ipFamilies. The rendered listen and admin
 * sections are served by the real gateway (--workers 1, as the chart runs it) inside a network
 * namespace laid out like an IPv6-only pod (the pod address is IPv6, IPv4 only loopback's, and
 * net.ipv6.bindv6only=1 to show the gateway does not depend on the node's default): the kubelet's
 * probe path on the pod's IPv6 address, the proxy port on it, and IPv4 loopback all answer.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv } from 'ajv'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestPki, clientTls, type TestPki } from '../support/pki.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { buildRenderer, CHART, valuesFile, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

const run = promisify(execFile)
let r: Renderer
let pki: TestPki
const MINIMAL = valuesFile('minimal')
const POD_IP = 'fd00:6::10'

beforeAll(async () => {
  r = buildRenderer()
  pki = await createTestPki()
}, 5 * 60_000)
afterAll(async () => {
  pki?.cleanup()
  await r?.cleanup()
})

describe('listen addresses and Service IP families', () => {
  it('binds both listeners to "::" by default, to gateway.listenHost when set; values.schema.json takes only "::" and "0.0.0.0"', async () => {
    const cfg = (await r.render([MINIMAL])).gatewayConfig()
    expect([cfg.listen.host, cfg.admin.host]).toEqual(['::', '::'])
    const v4 = (await r.render([MINIMAL], 'gateway:\n  listenHost: 0.0.0.0\n')).gatewayConfig()
    expect([v4.listen.host, v4.admin.host]).toEqual(['0.0.0.0', '0.0.0.0'])
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { gateway: object; service: object }
    const withHost = (listenHost: string): unknown => ({ ...values, gateway: { ...values.gateway, listenHost } })
    expect(validate(withHost('0.0.0.0')), JSON.stringify(validate.errors)).toBe(true)
    for (const bad of ['127.0.0.1', 'localhost', '[::]']) expect(validate(withHost(bad)), bad).toBe(false)
    expect(validate({ ...values, service: { ...values.service, ipFamilies: ['IPv6', 'IPv6'] } })).toBe(false)
  })

  it('writes ipFamilyPolicy and ipFamilies on both Services when given, nothing by default', async () => {
    const x = await r.render([MINIMAL], stringify({ service: { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6', 'IPv4'] } }))
    expect(x.all('Service'), 'both Services rendered').toHaveLength(2)
    for (const svc of x.all('Service')) {
      expect(svc.spec, svc.metadata.name).toMatchObject({ ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6', 'IPv4'] })
      expect(validateManifest(svc)).toEqual([])
    }
    const plain = (await r.render([MINIMAL])).all('Service')
    expect(plain, 'both Services rendered').toHaveLength(2)
    for (const svc of plain) expect(Object.keys(svc.spec)).not.toContain('ipFamilyPolicy')
  })
})

describe('the rendered listeners in an IPv6-only pod network', () => {
  let gw: GatewayProcess | undefined
  let dir: string
  afterAll(async () => {
    await gw?.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  /** curl from inside the gateway's network namespace: the HTTP status, or curl's failure. */
  const curl = async (url: string): Promise<string> => {
    const args = ['-t', String(gw?.child.pid), '-n', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', url]
    return run('nsenter', args).then(({ stdout }) => stdout, (e: { stderr?: string }) => `failed: ${e.stderr ?? ''}`.trim())
  }

  it('answers the probes and callers on the pod\'s IPv6 address and on IPv4 loopback', async () => {
    dir = mkdtempSync(join(tmpdir(), 'chart-ipv6-'))
    const rendered = (await r.render([MINIMAL])).gatewayConfig()
    const cfg = {
      listen: rendered.listen,
      admin: rendered.admin,
      callers: rendered.callers,
      store: { kind: 'sqlite', file: join(dir, 'gateway.db') },
      endpoints: [{ name: 'partner', url: 'https://[::1]:1', allowPrivate: true, tls: clientTls(pki) }],
    }
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, stringify(cfg))
    // A pod's network: an IPv6 pod address and no IPv4 one but loopback's. The address sits on lo (this
    // machine's kernel has no dummy or veth links); it is not a loopback address, so a listener on
    // 0.0.0.0 or 127.0.0.1 is not reached through it.
    const pod = `ip link set lo up && ip -6 addr add ${POD_IP}/128 dev lo nodad && sysctl -qw net.ipv6.bindv6only=1 && exec "$0" "$@"`
    gw = await spawnGateway(file, ['--workers', '1'], {}, ['unshare', '--net', 'sh', '-c', pod])
    const admin = rendered.admin.port as number
    const proxy = rendered.listen.port as number
    expect(await curl(`http://[${POD_IP}]:${admin}/healthz`)).toBe('200')
    expect(await curl(`http://[${POD_IP}]:${admin}/readyz`)).toBe('200')
    expect(await curl(`http://127.0.0.1:${admin}/healthz`)).toBe('200')
    // The proxy port: a gateway-made answer (no such endpoint), not a refused connection.
    expect(await curl(`http://[${POD_IP}]:${proxy}/proxy/none/x`)).toBe('403')
    expect(await curl(`http://127.0.0.1:${proxy}/proxy/none/x`)).toBe('403')
  }, 120_000)
})
