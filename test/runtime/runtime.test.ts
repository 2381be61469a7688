/**
 * The runtime (store, observer) apart from the snapshot: prepare() refuses restart-only
 * changes and opens the store the first time a config needs one; the snapshot's sealers
 * seal decrypted claims under keys every replica derives alike.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig, type GatewayConfig } from '../../src/config/index.js'
import { compileSealers } from '../../src/gateway/index.js'
import { compileGatewayKeys } from '../../src/callers/index.js'
import { adoptConfig, createRuntime, restartBaseline, restartOnlyChanges, type RestartBaseline } from '../../src/runtime/index.js'
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
    const start = config(`store: { file: ${join(dir, 'a.db')} }\n${callers()}`)
    const moved = config(`store: { file: ${join(dir, 'b.db')} }\n${callers()}`)
    const opened: StoreConfig[] = []
    const runtime = createRuntime({ start, open: (c) => (opened.push(c), new MemoryStore()) })
    runtime.prepare(start)
    const err = (() => {
      try {
        runtime.prepare(moved)
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).problems.map((p) => p.key)).toEqual(['store.file'])
    expect(opened).toEqual([{ kind: 'sqlite', file: join(dir, 'a.db') }])
  })

  // Nothing is open at the start's location while no config needed a store: a fresh start with
  // the new file would open the new one, so a reload does too; from then on it is fixed.
  it('judges the store location against the config that opened the store, not the start', () => {
    const opened: StoreConfig[] = []
    const start = config(`store: { file: ${join(dir, 'a.db')} }\n`)
    const runtime = createRuntime({ start, open: (c) => (opened.push(c), new MemoryStore()) })
    runtime.prepare(start)
    expect(runtime.baseline).toEqual({ start })
    // Moved again while still nothing needs it: no store, nothing fixed.
    const movedEmpty = config(`store: { file: ${join(dir, 'b0.db')} }\n`)
    runtime.prepare(movedEmpty)
    expect([opened, runtime.baseline]).toEqual([[], { start }])
    const withCallers = config(`store: { file: ${join(dir, 'b.db')} }\n${callers()}`)
    runtime.prepare(withCallers)
    expect(opened).toEqual([{ kind: 'sqlite', file: join(dir, 'b.db') }])
    expect(runtime.baseline).toEqual({ start, store: withCallers.store })
    // Callers removed: the store stays open, and its location stays fixed.
    const noCallers = config(`store: { file: ${join(dir, 'b.db')} }\n`)
    runtime.prepare(noCallers)
    for (const next of [config(`store: { file: ${join(dir, 'c.db')} }\n${callers()}`), config(`store: { file: ${join(dir, 'c.db')} }\n`)]) {
      expect(() => runtime.prepare(next)).toThrow(ConfigError)
      expect(restartOnlyChanges(runtime.baseline, next).map((p) => p.key)).toEqual(['store.file'])
    }
    expect(opened).toHaveLength(1)
  })

  it('a per_user profile opens the store like caller apps do', () => {
    // needsStore reads only each profile's token mode.
    const perUser = (file: string): GatewayConfig => {
      const c = config(`store: { file: ${join(dir, file)} }\n`)
      return { ...c, profiles: [{ name: 'p', token: { mode: 'per_user' } } as GatewayConfig['profiles'][number]] }
    }
    const start = config(`store: { file: ${join(dir, 'a.db')} }\n`)
    const b = perUser('b.db')
    expect(restartOnlyChanges(restartBaseline(start), b)).toEqual([])
    const after = adoptConfig(restartBaseline(start), b)
    expect(after.store).toEqual(b.store)
    expect(restartOnlyChanges(after, perUser('c.db')).map((p) => p.key)).toEqual(['store.file'])
  })

  it('a process that joins an instance whose store is open (a --workers replacement) opens it at once and judges alike', () => {
    const start = config(`store: { file: ${join(dir, 'a.db')} }\n`)
    const b = config(`store: { file: ${join(dir, 'b.db')} }\n${callers()}`)
    const current = config(`store: { file: ${join(dir, 'b.db')} }\n`)
    const opened: StoreConfig[] = []
    const survivor: RestartBaseline = adoptConfig(adoptConfig(restartBaseline(start), b), current)
    const runtime = createRuntime({ start, storeOpenedWith: JSON.parse(JSON.stringify(survivor.store)) as GatewayConfig['store'], open: (c) => (opened.push(c), new MemoryStore()) })
    runtime.prepare(current)
    expect(opened).toEqual([{ kind: 'sqlite', file: join(dir, 'b.db') }])
    const c = config(`store: { file: ${join(dir, 'c.db')} }\n${callers()}`)
    expect(restartOnlyChanges(runtime.baseline, c).map((p) => p.key)).toEqual(restartOnlyChanges(survivor, c).map((p) => p.key))
    expect(restartOnlyChanges(runtime.baseline, c).map((p) => p.key)).toEqual(['store.file'])
  })

  it('names each changed key of listen, admin and the store location; seal keys, TTLs and the console token are not restart-only', () => {
    const a = restartBaseline(config(`store: { sealKeys: [{ id: k1, key: "${sealKey}" }] }\n${callers()}`))
    const b = config(`store: { sealKeys: [{ id: k1, key: "${sealKey}" }, { id: k2, key: "${sealKey}" }], activeKey: k2 }\n${callers()}  anonymousTtl: 1m\n`)
    expect(restartOnlyChanges(a, b)).toEqual([])
    const c = { ...b, listen: { ...b.listen, port: 1 }, admin: { ...b.admin, enabled: true }, store: { ...b.store, kind: 'redis' as const, url: 'redis://x' } }
    expect(restartOnlyChanges(a, c).map((p) => p.key)).toEqual(['listen.port', 'admin.enabled', 'store.kind', 'store.file', 'store.url', 'store.keyPrefix', 'store.redis'])
    // No store open yet (no caller apps, no per_user profile): the same change names only the sockets.
    const unopened = restartBaseline({ ...a.start, callers: { ...a.start.callers, enabled: false } })
    expect(unopened.store).toBeUndefined()
    expect(restartOnlyChanges(unopened, c).map((p) => p.key)).toEqual(['listen.port', 'admin.enabled'])
    const s = a.start
    // The console token is read per request: rotating it is a reload (it ends console sessions).
    expect(restartOnlyChanges(a, { ...s, admin: { ...s.admin, token: 'rotated-console-token-0001' } })).toEqual([])
    expect(restartOnlyChanges(a, { ...s, admin: { ...s.admin, token: 'rotated-console-token-0001', port: 1 } }).map((p) => p.key)).toEqual(['admin.port'])
    // Read per request too: the dance's public URL and the console's certificate allow-list (review rev-f, F7).
    expect(restartOnlyChanges(a, { ...s, listen: { ...s.listen, publicUrl: 'https://gw.example.test' } })).toEqual([])
    const adminTls = { cert: '/c.crt', key: '/c.key', clientCa: '/ca.crt', requireClientCert: false, clientSubjects: ['ops-alice'], clientSans: [] }
    const withTls = restartBaseline({ ...s, admin: { ...s.admin, tls: adminTls } })
    expect(restartOnlyChanges(withTls, { ...s, admin: { ...s.admin, tls: { ...adminTls, clientSubjects: [], clientSans: ['ops.example.test'] } } })).toEqual([])
    expect(restartOnlyChanges(withTls, { ...s, admin: { ...s.admin, tls: { ...adminTls, clientCa: '/other-ca.crt' } } }).map((p) => p.key)).toEqual(['admin.tls.clientCa'])
    expect(restartOnlyChanges(withTls, { ...s, admin: { ...s.admin, tls: undefined } }).map((p) => p.key)).toEqual(['admin.tls'])
    expect(restartOnlyChanges(a, { ...s, listen: { ...s.listen, publicUrl: 'https://gw.example.test', port: 1 } }).map((p) => p.key)).toEqual(['listen.port'])
    // The tracer is built once: its switch, name and exporter are restart-only; the sampler reloads.
    const sampled = { ...s, tracing: { ...s.tracing, sampler: { ratio: 0.5, parentBased: false } } }
    expect(restartOnlyChanges(a, sampled)).toEqual([])
    const traced = { ...s, tracing: { ...s.tracing, enabled: true, serviceName: 'other', otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/protobuf' as const, headers: {}, timeoutMs: 10_000, tls: {} } } }
    expect(restartOnlyChanges(a, traced).map((p) => p.key)).toEqual(['tracing.enabled', 'tracing.serviceName', 'tracing.otlp'])
  })

  it('Redis: keyPrefix is fixed once the store is open, free before', () => {
    const redis = (prefix: string, withCallers: boolean): GatewayConfig => config(`store: { kind: redis, url: "redis://127.0.0.1:6379", keyPrefix: "${prefix}" }\n${withCallers ? callers() : ''}`)
    const start = redis('p1:', false)
    const b = redis('p2:', true)
    expect(restartOnlyChanges(restartBaseline(start), b)).toEqual([])
    expect(restartOnlyChanges(adoptConfig(restartBaseline(start), b), redis('p3:', true)).map((p) => p.key)).toEqual(['store.keyPrefix'])
    // Whether Redis gates readiness reloads, open store or not.
    const gated = { ...b, store: { ...b.store, redis: { ...b.store.redis, gateReadiness: true } } }
    expect(restartOnlyChanges(adoptConfig(restartBaseline(start), b), gated)).toEqual([])
  })

  // Compared as the Redis client reads it, not as text: a respelling of one server was refused as a restart-only change.
  it('Redis: store.url is judged by the server it names; spellings of the same one reload', () => {
    const redis = (url: string): GatewayConfig => config(`store: { kind: redis, url: "${url}" }\n${callers()}`)
    const open = (url: string): RestartBaseline => adoptConfig(restartBaseline(redis(url)), redis(url))
    const same = [['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/0'], ['redis://127.0.0.1:6379', 'redis://127.0.0.1'], ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/'], ['redis://Redis.Data.svc/0', 'redis://redis.data.svc:6379'], ['redis://h:6379', 'redis://h:6379?family=0'], ['redis://:p%40ss@h', 'redis://:p%40ss@h:6379/0']]
    for (const [a, b] of same) expect(restartOnlyChanges(open(a as string), redis(b as string)), `${a} → ${b}`).toEqual([])
    const other = [['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/1'], ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6380'], ['redis://127.0.0.1:6379', 'rediss://127.0.0.1:6379'], ['redis://127.0.0.1:6379', 'redis://127.0.0.2:6379'], ['redis://h', 'redis://h?family=6'], ['redis://:a@h', 'redis://:b@h']]
    for (const [a, b] of other) expect(restartOnlyChanges(open(a as string), redis(b as string)).map((p) => p.key), `${a} → ${b}`).toEqual(['store.url'])
  })

  it('Redis: a rotated password (and a Sentinel\'s) reloads on one server and Sentinel; a Cluster\'s and the user name need a restart', () => {
    const open = (c: GatewayConfig): RestartBaseline => adoptConfig(restartBaseline(c), c)
    const with_ = (c: GatewayConfig, redis: Partial<GatewayConfig['store']['redis']>): GatewayConfig => ({ ...c, store: { ...c.store, redis: { ...c.store.redis, ...redis } } })
    const one = config(`store: { kind: redis, url: "redis://127.0.0.1:6379", redis: { password: old-one } }\n${callers()}`)
    expect(restartOnlyChanges(open(one), with_(one, { password: 'new-one' }))).toEqual([])
    // Removed (the URL's, or none, would then be used) or added: a restart, as before.
    expect(restartOnlyChanges(open(one), with_(one, { password: undefined })).map((p) => p.key)).toEqual(['store.redis.password'])
    expect(restartOnlyChanges(open(one), with_(one, { username: 'gw' })).map((p) => p.key)).toEqual(['store.redis.username'])
    const sentinel = config(`store: { kind: redis, redis: { password: old-one, sentinel: { addresses: ["127.0.0.1:26379"], primaryName: m, password: old-s } } }\n${callers()}`)
    const sentinelOf = (c: GatewayConfig): NonNullable<GatewayConfig['store']['redis']['sentinel']> => c.store.redis.sentinel as NonNullable<GatewayConfig['store']['redis']['sentinel']>
    expect(restartOnlyChanges(open(sentinel), with_(sentinel, { password: 'new-one', sentinel: { ...sentinelOf(sentinel), password: 'new-s' } }))).toEqual([])
    expect(restartOnlyChanges(open(sentinel), with_(sentinel, { sentinel: { ...sentinelOf(sentinel), primaryName: 'other' } })).map((p) => p.key)).toEqual(['store.redis.sentinel.primaryName'])
    // A Cluster's node clients copy their password at creation: a new one could not reach them.
    const cluster = config(`store: { kind: redis, redis: { password: old-one, cluster: { nodes: ["127.0.0.1:7000"] } } }\n${callers()}`)
    expect(restartOnlyChanges(open(cluster), with_(cluster, { password: 'new-one' })).map((p) => p.key)).toEqual(['store.redis.password'])
    expect(restartOnlyChanges(open(sentinel), with_(sentinel, { sentinel: { ...sentinelOf(sentinel), password: undefined } })).map((p) => p.key)).toEqual(['store.redis.sentinel.password'])
  })

  it('Redis TLS: a renewed key\'s passphrase reloads with it; other files or a server name are named by their key, TLS turned off store.redis.tls', () => {
    const open = (c: GatewayConfig): RestartBaseline => adoptConfig(restartBaseline(c), c)
    const tls = { ca: '/tls/ca.crt', cert: '/tls/tls.crt', key: '/tls/tls.key', keyPassphrase: 'first-passphrase', serverName: 'redis.data.svc' }
    const withTls = (c: GatewayConfig, t: Partial<typeof tls> | undefined): GatewayConfig => ({ ...c, store: { ...c.store, redis: { ...c.store.redis, tls: t && { ...tls, ...t } } } })
    for (const topology of ['url: "rediss://127.0.0.1:6380"', 'redis: { cluster: { nodes: ["127.0.0.1:7000"] } }']) {
      const c = withTls(config(`store: { kind: redis, ${topology} }\n${callers()}`), {})
      // A key renewed encrypted under a new passphrase (both from one Secret): as a fresh start with them.
      expect(restartOnlyChanges(open(c), withTls(c, { keyPassphrase: 'renewed-passphrase' }))).toEqual([])
      expect(restartOnlyChanges(open(c), withTls(c, { keyPassphrase: undefined }))).toEqual([])
      expect(restartOnlyChanges(open(c), withTls(c, { cert: '/other/tls.crt' })).map((p) => p.key)).toEqual(['store.redis.tls.cert'])
      expect(restartOnlyChanges(open(c), withTls(c, { serverName: 'other.data.svc' })).map((p) => p.key)).toEqual(['store.redis.tls.serverName'])
      expect(restartOnlyChanges(open(c), withTls(c, undefined)).map((p) => p.key)).toEqual(['store.redis.tls'])
    }
  })

  it('property: a TLS-only change is refused exactly when it names other files, another server name or turns TLS off, naming each changed key under store.redis.tls', () => {
    const c = config(`store: { kind: redis, url: "rediss://127.0.0.1:6380" }\n${callers()}`)
    const field = fc.option(fc.constantFrom('/a', '/b'), { nil: undefined })
    const tls = fc.option(fc.record({ ca: field, cert: field, key: field, keyPassphrase: field, serverName: field }), { nil: undefined })
    const withTls = (t: Record<string, string | undefined> | undefined): GatewayConfig => ({ ...c, store: { ...c.store, redis: { ...c.store.redis, tls: t && Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) } } })
    const changed = (a: Record<string, string | undefined> | undefined, b: Record<string, string | undefined> | undefined): string[] =>
      a === undefined || b === undefined ? (a === b ? [] : ['store.redis.tls']) : ['ca', 'cert', 'key', 'serverName'].filter((k) => a[k] !== b[k]).map((k) => `store.redis.tls.${k}`)
    fc.assert(
      fc.property(tls, tls, (a, b) => {
        const from = adoptConfig(restartBaseline(withTls(a)), withTls(a))
        expect(restartOnlyChanges(from, withTls(b)).map((p) => p.key).sort()).toEqual(changed(a, b).sort())
      }),
      { seed: 0x7115, numRuns: 200 },
    )
  })
})

describe('the listeners\' TLS on reload', () => {
  it('property: a listen.tls or admin.tls change is refused exactly when it names other files, turns TLS on or off or changes requireClientCert; a key\'s passphrase never', () => {
    const c = config('')
    const field = fc.option(fc.constantFrom('/a', '/b'), { nil: undefined })
    const tls = fc.option(fc.record({ cert: fc.constantFrom('/a', '/b'), key: fc.constantFrom('/a', '/b'), keyPassphrase: field, clientCa: field, requireClientCert: fc.boolean() }), { nil: undefined })
    type Tls = { cert: string; key: string; keyPassphrase: string | undefined; clientCa: string | undefined; requireClientCert: boolean } | undefined
    const defined = (t: Tls): never => (t && Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined))) as never
    const withTls = (listen: Tls, admin: Tls): GatewayConfig => ({ ...c, listen: { ...c.listen, tls: defined(listen) }, admin: { ...c.admin, tls: defined(admin) } })
    const changed = (at: string, a: Tls, b: Tls): string[] =>
      a === undefined || b === undefined ? (a === b ? [] : [`${at}.tls`]) : (['cert', 'key', 'clientCa', 'requireClientCert'] as const).filter((k) => a[k] !== b[k]).map((k) => `${at}.tls.${k}`)
    fc.assert(
      fc.property(tls, tls, tls, tls, (l1, a1, l2, a2) => {
        const expected = [...changed('listen', l1, l2), ...changed('admin', a1, a2)]
        expect(restartOnlyChanges(restartBaseline(withTls(l1, a1)), withTls(l2, a2)).map((p) => p.key).sort()).toEqual(expected.sort())
      }),
      { seed: 0x1157, numRuns: 300 },
    )
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
