/**
 * A Redis store setting the store cannot open is named at its own key, by `check`, a start and
 * the `--workers` primary's verdict alike (README `check` row): a `store.url` that is not a URL
 * (a port past 65535), or whose path is no database number, and a Sentinel address or Cluster
 * node whose port is not a TCP port. `check` once passed them all; a start then stopped on the
 * URL with the store's own words and no key (the primary said `store:`), and started on the
 * others with a store that never became ready. The URL is never echoed: it may hold a password.
 * Query parameters of the URL, which ioredis takes as client options ahead of the gateway's own
 * (`?keyPrefix=` moved the keys, `?tls=` picked a TLS profile, a typo was ignored), are refused
 * but for `family`, and so is `family` given twice (ioredis keeps the last); a parameter's value is
 * never echoed, nor a name that does not look like one. A user or password in the URL and a
 * different one in store.redis is refused at the store.redis key: the client used the URL's and
 * ignored it; the same one in both passes, with a warning (a rotation must change both).
 * All of them are judged with `kind: sqlite` too, where they are unused (they passed then).
 */
import { randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { startGateway } from '../../src/cli/gateway-root.js'
import { describeError } from '../../src/cli/options.js'
import { loadConfig, type GatewayConfig } from '../../src/config/index.js'
import { storeOpenProblems } from '../../src/runtime/index.js'
import { openRedisStore } from '../../src/store/index.js'
import { createTestPki, clientTlsYaml, type TestPki } from '../support/pki.js'
import { startRedisServer } from '../support/redis-servers.js'

let pki: TestPki
let run = 0
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const APP = 'callers:\n  apps:\n    - { clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: https://gw.example, endpoints: [partner] }\n'

/** A config whose caller apps open the store `store` describes (YAML under `store:`), of kind `kind`. */
function configWith(store: string, kind: 'redis' | 'sqlite' = 'redis'): string {
  const endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: ${clientTlsYaml(pki)}\n`
  const file = kind === 'sqlite' ? `  file: ${pki.dir}/check-redis-${run}.db\n` : ''
  return pki.write(`redis-${++run}.yaml`, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n${APP}store:\n  kind: ${kind}\n${store}${file}${endpoint}`)
}

/** What the start `serve` makes prints, or 'started'. */
async function startLine(file: string): Promise<string> {
  try {
    const gw = await startGateway({ configFile: file })
    await gw.close()
    return 'started'
  } catch (e) {
    return describeError(e)
  }
}

const QUERY = (name?: string): string => `${name === undefined ? 'a query parameter' : `query parameter ${name}`} is not taken: the only one is family (0, 4 or 6); TLS, credentials, timeouts and the key prefix are store.redis and store settings`
const TWICE = 'query parameter "family" is given more than once: the Redis client takes the last, and the gateway does not guess which one is meant; give it once'
const DIFFERS = (what: string, none = ''): string => `differs from the ${what} store.url holds${none}: the Redis client uses the URL's and ignores this key; give the credentials in one place (or the same in both)`
const CASES = [
  { store: '  url: "redis://:pa55word-7@127.0.0.1:99999/0"\n', key: 'store.url', line: 8, msg: 'is not a valid URL (expected redis://host:port or rediss://host:port/db; a port is 1–65535)' },
  { store: '  url: redis://127.0.0.1:6390/sessions\n', key: 'store.url', line: 8, msg: 'path must be a database number (/0, /1, …) or nothing' },
  { store: '  url: redis://127.0.0.1:0\n', key: 'store.url', line: 8, msg: 'port 0 is not a TCP port (1–65535)' },
  { store: '  url: "rediss://:pa55word-7@127.0.0.1:6390/0?tls=RedisCloudFixed"\n  redis: { tls: {} }\n', key: 'store.url', line: 8, msg: QUERY('"tls"') },
  { store: '  url: "redis://127.0.0.1:6390/0?family=6&keyPrefix=other:"\n', key: 'store.url', line: 8, msg: QUERY('"keyPrefix"') },
  { store: '  url: "redis://127.0.0.1:6390/0?comandTimeout=5000"\n', key: 'store.url', line: 8, msg: QUERY('"comandTimeout"') },
  { store: '  url: "redis://127.0.0.1:6390?pa55word-7=x"\n', key: 'store.url', line: 8, msg: QUERY() },
  { store: '  url: "redis://127.0.0.1:6390?family=pa55word-7"\n', key: 'store.url', line: 8, msg: 'query parameter "family" must be 0, 4 or 6' },
  // Given twice, ioredis keeps the last: the gateway guesses none (an escaped name is the same name).
  { store: '  url: "redis://:pa55word-7@127.0.0.1:6390/0?family=4&family=6"\n', key: 'store.url', line: 8, msg: TWICE },
  { store: '  url: "redis://127.0.0.1:6390/0?family=4&%66amily=4"\n', key: 'store.url', line: 8, msg: TWICE },
  // The URL's user and password win at start; a different one in store.redis would be unused until a reload's rotation.
  { store: '  url: "redis://:pa55word-7@127.0.0.1:6390/0"\n  redis:\n    password: other-pa55word-7\n', key: 'store.redis.password', line: 10, msg: DIFFERS('password') },
  { store: '  url: "redis://gw@127.0.0.1:6390/0"\n  redis: { username: pa55word-7-user }\n', key: 'store.redis.username', line: 9, msg: DIFFERS('user') },
  // A user alone in the URL: the client sends an empty password, not store.redis.password.
  { store: '  url: "redis://gw@127.0.0.1:6390/0"\n  redis: { password: pa55word-7 }\n', key: 'store.redis.password', line: 9, msg: DIFFERS('password', ' (none, as it holds a user or password)') },
  { store: '  redis:\n    sentinel: { primaryName: main, addresses: ["127.0.0.1:26379", "127.0.0.1:99999"] }\n', key: 'store.redis.sentinel.addresses[1]', line: 9, msg: 'port 99999 is not a TCP port (1–65535)' },
  { store: '  redis:\n    cluster: { nodes: ["127.0.0.1:0"] }\n', key: 'store.redis.cluster.nodes[0]', line: 9, msg: 'port 0 is not a TCP port (1–65535)' },
]

describe('Redis store settings the store cannot open', () => {
  it('fail check at their key and line, and stop the start with that very line', async () => {
    for (const c of CASES) {
      const file = configWith(c.store)
      const check = runCheck(file)
      const expected = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${c.line}:\\d+: ${c.key.replace(/[.[\]]/g, '\\$&')}: `)
      const lines = check.output.split('\n').filter((l) => expected.test(l))
      expect({ key: c.key, ok: check.ok, lines: lines.map((l) => l.replace(expected, '')) }, check.output).toEqual({ key: c.key, ok: false, lines: [c.msg] })
      expect(check.output).not.toContain('pa55word-7')
      const start = await startLine(file)
      expect({ key: c.key, start }).toEqual({ key: c.key, start: lines[0] })
    }
  })

  // Judged as written whatever the kind: `?keyPrefix=` passed with kind sqlite (unused), and stopped the reload that switched to Redis.
  it('with kind sqlite, the same settings fail check at the same key and line (they were not judged while unused)', () => {
    for (const c of CASES) {
      const file = configWith(c.store, 'sqlite')
      const check = runCheck(file)
      const expected = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:${c.line}:\\d+: ${c.key.replace(/[.[\]]/g, '\\$&')}: `)
      const lines = check.output.split('\n').filter((l) => expected.test(l))
      expect({ key: c.key, ok: check.ok, lines: lines.map((l) => l.replace(expected, '')) }, check.output).toEqual({ key: c.key, ok: false, lines: [c.msg] })
      expect(check.output).not.toContain('pa55word-7')
    }
    // A URL that is right, unused with sqlite, still passes.
    expect(runCheck(configWith('  url: "redis://127.0.0.1:6379/15?family=4"\n', 'sqlite')).ok).toBe(true)
  })

  it('family, the one query parameter taken, passes check, and the store answers with it (the Redis on 127.0.0.1:6379, db 15, a key prefix of its own)', async () => {
    for (const family of ['0', '4']) expect(runCheck(configWith(`  url: "redis://127.0.0.1:6379/15?family=${family}"\n`)).ok).toBe(true)
    const store = openRedisStore({ url: 'redis://127.0.0.1:6379/15?family=4', keyPrefix: `check-redis-family-${process.pid}:`, acknowledge: { replicas: 0, timeoutMs: 500 }, commandTimeoutMs: 2000, connectTimeoutMs: 2000 })
    try {
      await store.put('k', 'v', 5000)
      expect(await store.take('k')).toBe('v')
    } finally {
      await store.close()
    }
  })

  // Before, the pair was refused whatever the values: a Helm release holding the password in its URL Secret and under passwordKey crash-looped.
  it('the same user and password in store.url and store.redis (references, as the chart writes them) pass check with a warning, and the store answers with them; different ones fail at store.redis.password, neither shown', async () => {
    const redis = await startRedisServer({ conf: () => 'user default off\nuser gw on >S3cret-pa55 ~* &* +@all\n' })
    try {
      const refs = (password: string): string => {
        pki.write(`redis-url-${run}`, `redis://gw:S3cret-pa55@127.0.0.1:${redis.port}/0`)
        pki.write(`redis-password-${run}`, password)
        return `  url: "\${file:${pki.dir}/redis-url-${run}}"\n  keyPrefix: "check-redis-twice-${process.pid}-${run}:"\n  redis:\n    username: gw\n    password: "\${file:${pki.dir}/redis-password-${run}}"\n`
      }
      const same = configWith(refs('S3cret-pa55'))
      const check = runCheck(same)
      expect(check.ok, check.output).toBe(true)
      const warnings = check.output.split('\n').filter((l) => l.includes('warning: the same value is in store.url'))
      expect(warnings.map((l) => l.replace(/^.*: (store\.redis\.\w+): warning: .*$/, '$1'))).toEqual(['store.redis.username', 'store.redis.password'])
      expect(check.output).not.toContain('S3cret')
      const gw = await startGateway({ configFile: same })
      try {
        const now = Math.floor(Date.now() / 1000)
        const jwt = await new SignJWT({ iss: 'bot', aud: 'https://gw.example', sub: 'u1', jti: randomUUID(), iat: now, exp: now + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'))
        const r = await fetch(`${gw.url}/gateway/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: jwt }) })
        expect(r.status, await r.clone().text()).toBe(200)
      } finally {
        await gw.close()
      }
      const other = configWith(refs('0ther-pa55'))
      const refused = runCheck(other)
      expect(refused.ok).toBe(false)
      expect(refused.output).toContain(`store.redis.password: ${DIFFERS('password')}`)
      expect(refused.output).not.toMatch(/pa55/)
      expect(await startLine(other)).toMatch(/store\.redis\.password: differs from the password store\.url holds/)
    } finally {
      await redis.stop()
    }
  })

  it('a URL the store still refuses is blamed on store.url, not on `store` (the --workers primary) or on no key (a start)', () => {
    const loaded = loadConfig(configWith('  url: redis://127.0.0.1:6390/0\n'))
    // The store's own refusal, should a URL pass the load: the text as a start with `${env:}` could not have checked it.
    const config: GatewayConfig = { ...loaded, store: { ...loaded.store, url: 'redis://[::1' } }
    const problems = storeOpenProblems(config)
    expect(problems.map((p) => [p.key, p.msg])).toEqual([['store.url', 'redis store: url is not a valid URL (expected redis://host:port)']])
  })
})
