/**
 * endpoints[].tls.caBundle: the server's roots from a CA bundle kept apart from the client Secret
 * (a trust-manager Bundle's ConfigMap, or a Secret), as cert-manager's ca.crt holds only the
 * current CA. Rendered (volume, mount, tls.roots), refused when it cannot work, and the rendered
 * config served by the real gateway against a real mTLS server whose certificate comes from the
 * old CA while the Secret's ca.crt names only the new one.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway } from '../../src/cli/gateway-root.js'
import { send } from '../support/gateway.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { buildRenderer, CHART, valuesFile, type Manifest, type Renderer } from './chart.js'
import { validateManifest } from './kube-schema.js'

let r: Renderer
let oldCa: TestPki
let newCa: TestPki
let upstream: RunningServer
const MINIMAL = valuesFile('minimal')

beforeAll(async () => {
  r = buildRenderer()
  ;[oldCa, newCa] = await Promise.all([createTestPki(), createTestPki()])
  // The backend still serves a certificate of the old CA; it takes client certificates of the new one.
  upstream = await startMtlsServer({ cert: oldCa.file('server-chain.crt'), key: oldCa.file('server.key'), ca: newCa.file('root.crt') })
}, 5 * 60_000)
afterAll(async () => {
  await upstream?.close()
  oldCa?.cleanup()
  newCa?.cleanup()
  await r?.cleanup()
})

const endpoint = (tls: Record<string, unknown>): string =>
  stringify({ endpoints: [{ name: 'partner', url: `https://127.0.0.1:${upstream.port}`, allowPrivate: true, tls: { secretName: 'partner-client-tls', ...tls } }] })
const TRUST_MANAGER = { caBundle: { configMap: 'partner-trust', key: 'trust-bundle.pem' } }

describe('tls.caBundle', () => {
  it('mounts the ConfigMap key (or the Secret key, default ca.crt) read-only and writes it as tls.roots', async () => {
    const x = await r.render([MINIMAL], endpoint(TRUST_MANAGER))
    const pod = x.get('Deployment').spec.template.spec as Manifest
    expect(validateManifest(x.get('Deployment'))).toEqual([])
    expect(pod.volumes).toContainEqual({ name: 'ca-partner', configMap: { name: 'partner-trust', items: [{ key: 'trust-bundle.pem', path: 'ca.crt' }], defaultMode: 0o444 } })
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'ca-partner', mountPath: '/etc/mtls-gateway/ca-bundles/partner', readOnly: true })
    expect(x.gatewayConfig().endpoints[0].tls).toEqual({ dir: '/etc/mtls-gateway/endpoints/partner', roots: '/etc/mtls-gateway/ca-bundles/partner/ca.crt' })
    const secret = (await r.render([MINIMAL], endpoint({ caBundle: { secret: 'partner-roots' } }))).get('Deployment').spec.template.spec as Manifest
    expect(secret.volumes).toContainEqual({ name: 'ca-partner', secret: { secretName: 'partner-roots', items: [{ key: 'ca.crt', path: 'ca.crt' }], defaultMode: 0o444 } })
    // None by default: the Secret's ca.crt stays the roots.
    expect((await r.render([MINIMAL])).gatewayConfig().endpoints[0].tls).toEqual({ dir: '/etc/mtls-gateway/endpoints/partner' })
  })

  it('refuses both sources, neither, and tls.roots beside it, naming the fix; values.schema.json too', async () => {
    expect(await r.renderError([MINIMAL], endpoint({ caBundle: { configMap: 'a', secret: 'b' } }))).toContain('tls.caBundle names both a ConfigMap (a) and a Secret (b)')
    expect(await r.renderError([MINIMAL], endpoint({ caBundle: { key: 'ca.crt' } }))).toContain('tls.caBundle needs configMap or secret')
    expect(await r.renderError([MINIMAL], endpoint({ ...TRUST_MANAGER, roots: '/etc/roots.pem' }))).toContain('tls.caBundle and tls.roots both give the server\'s roots')
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')))
    const values = (caBundle: unknown): unknown => ({ ...(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as object), endpoints: [{ name: 'partner', url: 'https://a.example', tls: { secretName: 's', caBundle } }] })
    expect(validate(values(TRUST_MANAGER.caBundle)), JSON.stringify(validate.errors)).toBe(true)
    expect(validate(values({ secret: 'partner-roots' })), JSON.stringify(validate.errors)).toBe(true)
    for (const bad of [{ configMap: 'a', secret: 'b' }, { key: 'ca.crt' }, { configMap: 'a', path: 'x' }, { configMap: 'Not_A_Name' }]) expect(validate(values(bad)), JSON.stringify(bad)).toBe(false)
  })

  it('lets the gateway reach a server of the old CA while the Secret\'s ca.crt holds only the new one (a rotation)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'chart-ca-bundle-'))
    const serve = async (values: string): Promise<number> => {
      const cfg = (await r.render([MINIMAL], values)).gatewayConfig()
      cfg.admin = { enabled: false }
      const text = stringify(cfg).replaceAll('/etc/mtls-gateway/', `${root}/etc/mtls-gateway/`).replaceAll('/var/lib/mtls-gateway', `${root}/var/lib/mtls-gateway`)
      const configFile = join(root, 'gateway.yaml')
      writeFileSync(configFile, text)
      const gw = await startGateway({ configFile, listen: { host: '127.0.0.1', port: 0 } })
      try {
        return (await send(gw.url, '/proxy/partner/x')).status
      } finally {
        await gw.close()
      }
    }
    try {
      const secret = join(root, 'etc/mtls-gateway/endpoints/partner')
      const bundle = join(root, 'etc/mtls-gateway/ca-bundles/partner')
      mkdirSync(secret, { recursive: true })
      mkdirSync(bundle, { recursive: true })
      mkdirSync(join(root, 'var/lib/mtls-gateway'), { recursive: true })
      writeFileSync(join(secret, 'tls.crt'), readFileSync(newCa.file('client.crt'), 'utf8') + readFileSync(newCa.file('inter.crt'), 'utf8'))
      writeFileSync(join(secret, 'tls.key'), readFileSync(newCa.file('client.key')))
      writeFileSync(join(secret, 'ca.crt'), readFileSync(newCa.file('root.crt')))
      writeFileSync(join(bundle, 'ca.crt'), readFileSync(oldCa.file('root.crt'), 'utf8') + readFileSync(newCa.file('root.crt'), 'utf8'))
      expect(await serve(endpoint(TRUST_MANAGER))).toBe(200)
      // Without the bundle, ca.crt (the new CA only) does not verify the old CA's server certificate.
      expect(await serve(endpoint({}))).toBe(502)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  }, 120_000)
})
