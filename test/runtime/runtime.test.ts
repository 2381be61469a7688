/**
 * The runtime (store, observer) apart from the snapshot: prepare() refuses restart-only
 * changes and opens the store the first time a config needs one; the snapshot's sealers
 * seal decrypted claims under keys every replica derives alike.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type GatewayConfig } from '../../src/config/index.js'
import { compileSealers } from '../../src/gateway/index.js'
import { compileGatewayKeys } from '../../src/callers/index.js'
import { createRuntime, restartOnlyChanges } from '../../src/runtime/index.js'
import { ConfigError } from '../../src/errors.js'
import { MemoryStore, type Store, type StoreConfig } from '../../src/store/index.js'
import { rsaPair } from '../support/callers-fixtures.js'

let dir: string
const jwePem = rsaPair().privatePem
const sealKey = randomBytes(32).toString('base64')

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'runtime-'))
  writeFileSync(join(dir, 'jwe.pem'), jwePem)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let n = 0
/** Loads a config made of `body` (no endpoints needed for these checks). */
function config(body: string): GatewayConfig {
  const file = join(dir, `c${n++}.yaml`)
  writeFileSync(file, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints: []\n${body}`)
  return loadConfig(file)
}
const CALLERS = `callers:\n  apps: [{ clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: a, endpoints: ["*"] }]\n  gatewayKeys: [{ kid: k, privateKey: "\${file:${join('__DIR__', 'jwe.pem')}}" }]\n`
const callers = (): string => CALLERS.replace('__DIR__', dir)

describe('runtime.prepare', () => {
  it('opens the store only when a config first needs it, and only once', () => {
    const opened: StoreConfig[] = []
    const store: Store = new MemoryStore()
    const open = (c: StoreConfig): Store => (opened.push(c), store)
    const open1 = config(`store: { file: ${join(dir, 's.db')} }\n`)
    const runtime = createRuntime({ start: open1, open })
    runtime.prepare(open1)
    expect([runtime.store, opened]).toEqual([undefined, []])
    const withCallers = config(`store: { file: ${join(dir, 's.db')} }\n${callers()}`)
    runtime.prepare(withCallers)
    runtime.prepare(withCallers)
    expect(opened).toEqual([{ kind: 'sqlite', file: join(dir, 's.db') }])
    expect(runtime.store).toBe(store)
  })

  it('refuses what only a restart applies, naming each setting, and opens nothing', () => {
    const start = config(`store: { file: ${join(dir, 'a.db')} }\n`)
    const moved = config(`store: { file: ${join(dir, 'b.db')} }\n${callers()}`)
    const runtime = createRuntime({ start, open: () => new MemoryStore() })
    const err = (() => {
      try {
        runtime.prepare(moved)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).problems.map((p) => p.key)).toEqual(['store.file'])
    expect(runtime.store).toBeUndefined()
  })

  it('names listen, admin and the store location; seal keys, TTLs and the console token are not restart-only', () => {
    const a = config(`store: { sealKeys: [{ id: k1, key: "${sealKey}" }] }\n${callers()}`)
    const b = config(`store: { sealKeys: [{ id: k1, key: "${sealKey}" }, { id: k2, key: "${sealKey}" }], activeKey: k2 }\n${callers()}  anonymousTtl: 1m\n`)
    expect(restartOnlyChanges(a, b)).toEqual([])
    const c = { ...b, listen: { ...b.listen, port: 1 }, admin: { ...b.admin, enabled: true }, store: { ...b.store, kind: 'redis' as const, url: 'redis://x' } }
    expect(restartOnlyChanges(a, c).map((p) => p.key)).toEqual(['listen', 'admin', 'store.kind', 'store.file', 'store.url', 'store.keyPrefix', 'store.redis'])
    // The console token is read per request: rotating it is a reload (it ends console sessions).
    expect(restartOnlyChanges(a, { ...a, admin: { ...a.admin, token: 'rotated-console-token-0001' } })).toEqual([])
    expect(restartOnlyChanges(a, { ...a, admin: { ...a.admin, token: 'rotated-console-token-0001', port: 1 } }).map((p) => p.key)).toEqual(['admin'])
    // The tracer is built once: its switch, name and exporter are restart-only; the sampler reloads.
    const sampled = { ...a, tracing: { ...a.tracing, sampler: { ratio: 0.5, parentBased: false } } }
    expect(restartOnlyChanges(a, sampled)).toEqual([])
    const traced = { ...a, tracing: { ...a.tracing, enabled: true, serviceName: 'other', otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/protobuf' as const, headers: {}, timeoutMs: 10_000, tls: {} } } }
    expect(restartOnlyChanges(a, traced).map((p) => p.key)).toEqual(['tracing.enabled', 'tracing.serviceName', 'tracing.otlp'])
  })
})

describe('the snapshot\'s sealers', () => {
  it('without store.sealKeys, two processes derive the same claims key from the JWE key; another JWE key does not open it', () => {
    const cfg = config(callers())
    const keys = compileGatewayKeys(cfg.callers.gatewayKeys)
    const [a, b] = [compileSealers(cfg, keys), compileSealers(cfg, compileGatewayKeys(cfg.callers.gatewayKeys))]
    expect(a.records).toBeUndefined()
    const sealed = a.claims?.seal('{"pin":"4711"}', 'bearer-claims:x') ?? ''
    expect(sealed).not.toContain('4711')
    expect(b.claims?.open(sealed, 'bearer-claims:x')).toBe('{"pin":"4711"}')
    const other = compileSealers(cfg, compileGatewayKeys([{ kid: 'k', privateKey: rsaPair().privatePem }]))
    expect(() => other.claims?.open(sealed, 'bearer-claims:x')).toThrow()
  })

  it('with store.sealKeys, records and claims use them; no JWE keys and no seal keys: no claims sealer', () => {
    const cfg = config(`store: { sealKeys: [{ id: k1, key: "${sealKey}" }] }\n${callers()}`)
    const s = compileSealers(cfg, compileGatewayKeys(cfg.callers.gatewayKeys))
    expect(s.claims).toBe(s.records)
    expect(s.records?.activeId).toBe('k1')
    const open = config('')
    expect(compileSealers(open, new Map())).toEqual({})
  })
})
