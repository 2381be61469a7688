/**
 * Which lines logging.callerFaults caps: an unauthenticated client's malformed requests are, the
 * security refusals an SRE follows per event are not (egress_denied, path_escapes_base,
 * caller_not_allowed), nor are the gateway's 5xx, nor an authenticated caller's lines; an upstream's failure (upstream_…) is
 * capped without an authenticated caller (the open caller is anyone). The summary names the
 * client addresses whose lines were held back.
 */
import { describe, expect, it } from 'vitest'
import { GatewayError, type Reason } from '../../src/errors.js'
import { capCallerFaultLines } from '../../src/ops/caller-fault-lines.js'
import { createLog } from '../../src/ops/log.js'
import type { RequestRecord } from '../../src/proxy/listener.js'
import { OPEN_CALLER_ID } from '../../src/callers/index.js'

function record(reason: Reason, clientAddress: string, caller?: string): RequestRecord {
  return { id: 'r', mode: 'forward', method: 'GET', status: 400, durationMs: 1, facts: caller === undefined ? {} : { caller }, error: new GatewayError(reason, 'refused'), clientAddress } as RequestRecord
}

function capped(): { faults: ReturnType<typeof capCallerFaultLines>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const log = createLog({ destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } })
  return { faults: capCallerFaultLines(log, () => ({ burst: 2, intervalMs: 60_000 })), lines }
}

describe('caller-fault lines: what is capped', () => {
  // upstream_connect_refused was here until s32: an open caller looping to a dead upstream wrote a warn line each, unbounded (now capped, below).
  it.each<Reason>(['egress_denied', 'path_escapes_base', 'caller_not_allowed', 'internal', 'unavailable', 'oauth_provider_failed'])('%s from an unauthenticated client is never capped', (reason) => {
    const { faults } = capped()
    for (let i = 0; i < 50; i++) expect(faults.accessAllowed(record(reason, '203.0.113.9'))).toBe(true)
  })

  it.each<Reason>(['http_version_not_supported', 'transfer_coding_not_implemented', 'too_many_pipelined', 'oauth_authorization_unknown', 'oauth_browser_mismatch', 'oauth_access_denied'])('%s (the client\'s doing: a version its request line names, its transfer coding, its pipelining, a dance page it opened) from an unauthenticated client is capped like a 4xx', (reason) => {
    const { faults } = capped()
    const allowed = Array.from({ length: 50 }, () => faults.accessAllowed(record(reason, '203.0.113.9')))
    expect(allowed.filter(Boolean).length).toBe(2)
    expect(faults.accessAllowed(record(reason, '10.0.0.1', 'app-a'))).toBe(true)
  })

  it.each<Reason>(['upstream_connect_refused', 'upstream_connect_failed', 'upstream_timeout', 'upstream_tls_failed'])('%s (the upstream\'s failure, at a rate the client picks) from an unauthenticated client is capped; an authenticated caller\'s never', (reason) => {
    const { faults } = capped()
    const allowed = Array.from({ length: 50 }, () => faults.accessAllowed(record(reason, '203.0.113.9', OPEN_CALLER_ID)))
    expect(allowed.filter(Boolean).length).toBe(2)
    for (let i = 0; i < 50; i++) expect(faults.accessAllowed(record(reason, '10.0.0.1', 'app-a'))).toBe(true)
  })

  it('an authenticated caller\'s bad_request is never capped; an unauthenticated one\'s is, and the summary names each client', () => {
    const { faults, lines } = capped()
    for (let i = 0; i < 50; i++) expect(faults.accessAllowed(record('bad_request', '10.0.0.1', 'app-a'))).toBe(true)
    const allowed = Array.from({ length: 50 }, () => faults.accessAllowed(record('bad_request', '203.0.113.9')))
    expect(allowed.filter(Boolean).length).toBe(2)
    expect(faults.accessAllowed(record('bad_request', '10.1.2.3'))).toBe(false)
    faults.flush()
    const summary = lines.find((l) => l.suppressed !== undefined)
    expect(summary).toMatchObject({ reason: 'bad_request', suppressed: 49, clients: { '203.0.113.9': 48, '10.1.2.3': 1 }, otherClientLines: 0 })
  })
})
