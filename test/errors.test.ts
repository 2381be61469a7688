import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { REASONS, STATUS, statusOf, toErrorBody } from '../src/errors.js'

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
})
