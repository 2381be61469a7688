/**
 * The instance's degradation lines (degradation-log.ts) follow changes, not reports: a condition is
 * said when it starts, not again while reports repeat it (another worker, a replacement, a reload
 * that keeps it), a new problem of the same subject is said, and the end of a subject's last
 * problem is said once. The same object logs a single process's own changes.
 */
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createDegradationLog, type Degradation } from '../../src/ops/degradation-log.js'

const expired: Degradation = { endpoint: 'old', reason: 'client_cert_expired', problem: 'endpoint "old": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=old")' }
const tenant: Degradation = { endpoint: 'old', reason: 'client_cert_expired', problem: 'endpoint "old" tenant "t": client certificate expired on 2021-01-01T00:00:00.000Z ("CN=t")' }
const ca: Degradation = { reason: 'interception_ca_expired', problem: 'the interception CA expired on 2022-06-01T00:00:00.000Z ("CN=ica")' }

describe('createDegradationLog', () => {
  it('says a start once, a new problem once, and each subject\'s end once', () => {
    const lines: Record<string, unknown>[] = []
    const log = createDegradationLog(pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) }))
    const said = (): unknown[] => lines.splice(0).map((e) => [e.level, e.msg, e.endpoint, e.problem])
    log.update([])
    expect(said()).toEqual([])
    log.update([expired, ca])
    expect(said()).toEqual([
      [40, 'endpoint degraded: it refuses every call until its bundle is valid; the others serve', 'old', expired.problem],
      [40, 'interception degraded: CONNECT to an intercepted host is refused (503) until the interception CA is valid; pass-through, forward proxy and route mode serve', undefined, ca.problem],
    ])
    // Another worker, a replacement, a reload that keeps them: nothing new.
    log.update([ca, expired])
    log.update([expired, expired, ca])
    expect(said()).toEqual([])
    log.update([expired, tenant])
    expect(said()).toEqual([
      [40, 'endpoint degraded: it refuses every call until its bundle is valid; the others serve', 'old', tenant.problem],
      [30, 'interception no longer degraded: the interception CA is valid, intercepted CONNECT serves again', undefined, undefined],
    ])
    log.update([tenant])
    expect(said()).toEqual([])
    log.update([])
    expect(said()).toEqual([[30, 'endpoint no longer degraded: its bundles are valid, it serves again', 'old', undefined]])
    log.update([])
    expect(said()).toEqual([])
  })
})
