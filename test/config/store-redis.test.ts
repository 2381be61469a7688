import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { redisStoreOptions } from '../../src/runtime/index.js'
import { configProblems } from '../support/config-problems.js'
import { createTestPki, type TestPki } from '../support/pki.js'

// store.redis: Sentinel, Cluster, TLS and the write acknowledgement, from YAML to store options.
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-store-redis-'))
const file = join(dir, 'gateway.yaml')
// A real CA certificate: the store's options refuse a `tls.ca` file with none (tlsFileProblems).
let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  pki?.cleanup()
})

const withStore = (store: string): string => `endpoints: []\nstore:\n${store}`

const problemsOf = (text: string): string[] => configProblems(() => parseConfig(file, text, { env: {} }))

describe('store.redis', () => {
  it('Sentinel with TLS files and secret references becomes store options; one replica must confirm writes', () => {
    writeFileSync(join(dir, 'ca.pem'), pki.root.pem)
    writeFileSync(join(dir, 'redis-password'), 's3cret-from-file\n')
    const c = parseConfig(file, withStore(`  kind: redis
  redis:
    password: \${file:redis-password}
    sentinel:
      addresses: ["sentinel-0.redis:26379", "[fd00::1]:26379"]
      primaryName: mymaster
      password: \${env:SENTINEL_PASSWORD}
    tls: { ca: ca.pem, serverName: redis.internal }
`), { env: { SENTINEL_PASSWORD: 'sentinel-pass' } })
    const o = redisStoreOptions(c)
    expect(o).toMatchObject({
      sentinel: { sentinels: [{ host: 'sentinel-0.redis', port: 26379 }, { host: 'fd00::1', port: 26379 }], primaryName: 'mymaster', sentinelPassword: 'sentinel-pass', db: 0 },
      password: 's3cret-from-file',
      tls: { ca: pki.root.pem, serverName: 'redis.internal' },
      acknowledge: { replicas: 1, timeoutMs: 1000 },
      commandTimeoutMs: 3000,
      connectTimeoutMs: 2000,
      keyPrefix: 'mtls-gateway:',
    })
    expect(o.url).toBeUndefined()
  })

  it('Cluster and plain URL default to no replica acknowledgement; it can be asked for', () => {
    const cluster = redisStoreOptions(parseConfig(file, withStore('  kind: redis\n  redis:\n    cluster: { nodes: ["10.0.0.1:6379"] }\n    replicasToAcknowledge: 1\n    acknowledgeTimeout: 250ms\n'), { env: {} }))
    expect(cluster).toMatchObject({ cluster: { nodes: [{ host: '10.0.0.1', port: 6379 }] }, acknowledge: { replicas: 1, timeoutMs: 250 } })
    const one = redisStoreOptions(parseConfig(file, withStore('  kind: redis\n  url: redis://r:6379\n'), { env: {} }))
    expect(one).toMatchObject({ url: 'redis://r:6379', acknowledge: { replicas: 0 } })
  })

  it('refuses contradictions with the key that is wrong', () => {
    expect(problemsOf(withStore('  kind: redis\n'))).toEqual(['store.url: is required with kind redis (or give redis.sentinel or redis.cluster)'])
    expect(problemsOf(withStore('  kind: redis\n  url: redis://r:6379\n  redis:\n    cluster: { nodes: ["a:1"] }\n'))).toEqual(['store.redis: give only one of url, redis.sentinel and redis.cluster'])
    expect(problemsOf(withStore('  kind: redis\n  url: redis://r:6379\n  redis:\n    tls: { ca: ca.pem }\n'))).toEqual(['store.url: must be rediss:// when redis.tls is given'])
    expect(problemsOf(withStore('  kind: redis\n  url: rediss://r:6379\n  redis:\n    tls: { cert: c.pem }\n'))).toEqual(['store.redis.tls.key: is required with tls.cert / tls.key (a client certificate needs its key)'])
    expect(problemsOf(withStore('  kind: redis\n  keyPrefix: "gw{1}:"\n  redis:\n    cluster: { nodes: ["a:1"] }\n'))).toEqual(['store.keyPrefix: must not contain "{" or "}" with a Redis Cluster (it would move the hash tag)'])
    expect(problemsOf(withStore('  kind: redis\n  url: redis://r:6379\n  redis:\n    acknowledgeTimeout: 5s\n'))).toEqual(['store.redis.acknowledgeTimeout: must be shorter than commandTimeout (3000 ms)'])
    expect(problemsOf(withStore('  kind: redis\n  redis:\n    sentinel: { addresses: ["no-port"], primaryName: p }\n')).join('\n')).toMatch(/^store\.redis\.sentinel\.addresses\[0\]: must match/)
  })
})
