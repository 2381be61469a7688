import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { REASONS, STATUS, statusOf, toErrorBody } from '../src/errors.js'
import { AUTH_FAILURE_LABELS, CONNECTION_REFUSAL_LABELS, EGRESS_REASON_LABELS, TUNNEL_KINDS } from '../src/ops/label-sets.js'
import { WORKER_DRAIN_REASONS } from '../src/ops/worker-counters.js'

describe('error vocabulary', () => {
  it('docs/errors.md lists exactly the reasons of the STATUS table, with their statuses', () => {
    const doc = readFileSync('docs/errors.md', 'utf8')
    const rows = [...doc.matchAll(/^\| `([a-z_0-9]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2]?.trim()])
    expect(rows.map((r) => r[0]).sort()).toEqual([...REASONS].sort())
    for (const [reason, status] of rows) {
      const s = STATUS[reason as keyof typeof STATUS]
      expect(status, reason).toBe(s === 'challenge' ? '407 (proxy) / 401 (route, API)' : String(s))
    }
  })

  it('spells credential challenges per surface and builds the one body shape', () => {
    expect(statusOf('caller_credentials_missing', 'proxy')).toBe(407)
    expect(statusOf('caller_credentials_missing', 'api')).toBe(401)
    expect(statusOf('upstream_timeout', 'proxy')).toBe(504)
    expect(toErrorBody('x', 502)).toEqual({ errors: [{ msg: 'x', code: 502 }] })
  })

  it('every value of a closed reason label (caller refusals, egress, connection refusals, tunnel kinds, worker drains) is named in the docs', () => {
    const docs = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)].map((f) => readFileSync(f, 'utf8')).join('\n')
    const sets = { AUTH_FAILURE_LABELS, EGRESS_REASON_LABELS, CONNECTION_REFUSAL_LABELS, TUNNEL_KINDS, WORKER_DRAIN_REASONS }
    // Quoted as code (`x`) or as a label value (reason="x"), so an alert's author finds it.
    const undocumented = Object.entries(sets).flatMap(([set, values]) => (values as readonly string[]).filter((v) => !docs.includes(`\`${v}\``) && !docs.includes(`"${v}"`)).map((v) => `${set}: ${v}`))
    expect(undocumented).toEqual([])
  })
})
