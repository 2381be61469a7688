/**
 * What README.md and docs/*.md say about metrics' labels and the throttles' store keys matches
 * what the gateway registers and writes:
 *   - a series written `<metric>{label…}` names only labels that metric has, and a
 *     `caller_auth_failures_total{reason="…"}` a reason it counts (the two throttles each under
 *     their own: they were one `throttled`, so an alert could not tell them apart);
 *   - no `requests_total` sample is said to carry a status: it has `status_class` (errors.md
 *     promised a sample "status `444`", which no query finds);
 *   - every `throttle:` key quoted is of the form the store holds, `throttle:<name>[-failed]:<source>:<minute>`
 *     with a throttle the code has (the README had `throttle:token-exchange:<address>:…`,
 *     where the key holds `v4_127.0.0.1`), and the keys a throttle writes match that form.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { createSettledThrottle } from '../../src/api/settled-throttle.js'
import { createMetrics } from '../../src/ops/index.js'
import { MemoryStore } from '../../src/store/index.js'

const DOCS = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].map((file) => ({ file, text: readFileSync(file, 'utf8') }))

/** The throttles the code creates: every `createSettledThrottle({ name: '…'` under src/. */
function throttleNames(): string[] {
  const names = new Set<string>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${dir}/${e.name}`)
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(`${dir}/${e.name}`, 'utf8').matchAll(/createSettledThrottle\(\{ name: '([a-z0-9-]+)'/g)) names.add(m[1] as string)
    }
  }
  walk('src')
  return [...names].sort()
}

/** `<source>` as the store writes it: v4_<IPv4>, v6_<four groups>, v6ll_<eight groups>. */
const SOURCE = String.raw`(?:<source>|v4_\d{1,3}(?:\.\d{1,3}){3}|v6_[0-9a-f]{1,4}(?:-[0-9a-f]{1,4}){3}|v6ll_fe[89ab][0-9a-f](?:-[0-9a-f]{1,4}){7})`
const keyForm = (names: readonly string[]): RegExp => new RegExp(String.raw`^throttle:(?:${names.join('|')})(?:-failed)?:${SOURCE}:(?:<minute>|\d+)$`)

describe('metric labels and throttle keys in the docs', () => {
  it('every `<metric>{label…}` names labels its metric has, and every caller_auth_failures_total reason is one it counts', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const text = await metrics.registry.metrics()
    const reasons = new Set([...text.matchAll(/^mtls_gateway_caller_auth_failures_total\{reason="([^"]+)"\}/gm)].map((m) => m[1]))
    const wrong: string[] = []
    let checked = 0
    for (const { file, text: doc } of DOCS) {
      for (const m of doc.matchAll(/`(?:mtls_gateway_)?([a-z_]+)\{([^}`]*)\}/g)) {
        const metric = metrics.registry.getSingleMetric(`mtls_gateway_${m[1]}`) as unknown as { labelNames?: string[] } | undefined
        if (!metric) continue
        checked++
        for (const part of (m[2] as string).split(',')) {
          const [label, value] = part.trim().split('=') as [string, string | undefined]
          if (label === '' || label === '…') continue
          if (!metric.labelNames?.includes(label)) wrong.push(`${file}: ${m[0]}: no label ${label}`)
          if (m[1] === 'caller_auth_failures_total' && label === 'reason' && value !== undefined && !reasons.has(value.replace(/"/g, ''))) wrong.push(`${file}: ${m[0]}: no such reason`)
        }
      }
      for (const m of doc.matchAll(/`requests_total`[^.|]*?\bstatus `\d{3}`/g)) wrong.push(`${file}: "${m[0]}": requests_total has status_class, not a status`)
    }
    expect(wrong).toEqual([])
    expect(checked).toBeGreaterThan(20)
    expect(reasons).toContain('admin_token_throttled')
    expect(reasons).toContain('token_exchange_throttled')
    expect(reasons).not.toContain('throttled')
  })

  it('every throttle key quoted has the form the store holds, and the keys a throttle writes have it', async () => {
    const names = throttleNames()
    expect(names).toEqual(['console-sign-in', 'oauth1-admin', 'token-exchange'])
    const form = keyForm(names)
    // The prefix alone (`throttle:`) names them all.
    const quoted = DOCS.flatMap(({ file, text }) => [...text.matchAll(/`(throttle:[^`]+)`/g)].map((m) => ({ file, key: m[1] as string })))
    expect(quoted.filter(({ key }) => !form.test(key))).toEqual([])
    expect(quoted.length).toBeGreaterThan(6)
    const store = new MemoryStore({ purgeIntervalMs: 0 })
    for (const address of ['127.0.0.1', '::ffff:10.1.2.3', '2001:db8::7', 'fe80::1%eth0']) {
      const attempt = await createSettledThrottle({ name: 'token-exchange', max: 5, maxAddresses: 10, store: () => store }).admit(address)
      if (attempt.admitted) await attempt.settle(true)
    }
    const written = await store.keys('throttle:')
    expect(written).toHaveLength(8)
    expect(written.filter((k) => !form.test(k))).toEqual([])
    expect(written.filter((k) => k.startsWith('throttle:token-exchange:v4_127.0.0.1:'))).toHaveLength(1)
    await store.close()
  })
})
