import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createLog, createMetrics, fingerprint, formatPretty, methodLabel, statusClass, watchFiles } from '../../src/ops/index.js'
import { eventually, parseMetrics, samples, valueOf } from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-ops-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('metric functions for other modules', () => {
  it('count OAuth signatures, caller auth failures and egress refusals with bounded labels', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    metrics.oauthSignature('partner-oauth', 'HMAC-SHA256')
    metrics.oauthSignature('partner-oauth', 'HMAC-SHA256')
    metrics.oauthSignature('legacy', 'RSA-SHA1')
    metrics.callerAuthFailure('expired')
    metrics.egressRefusal('private_address')
    metrics.request(undefined, 'PROPFIND', 0, 1)
    metrics.setCertificateValidity([
      { endpoint: 'a', kind: 'intermediate', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') },
      { endpoint: 'a', kind: 'intermediate', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') },
    ])
    const m = parseMetrics(await metrics.registry.metrics())
    expect(samples(m, 'mtls_gateway_oauth_signatures_total')).toEqual([
      { labels: { profile: 'legacy', method: 'RSA-SHA1' }, value: 1 },
      { labels: { profile: 'partner-oauth', method: 'HMAC-SHA256' }, value: 2 },
    ])
    const counted = (name: string): ReturnType<typeof samples> => samples(m, name).filter((x) => x.value > 0)
    expect(counted('mtls_gateway_caller_auth_failures_total')).toEqual([{ labels: { reason: 'expired' }, value: 1 }])
    expect(counted('mtls_gateway_egress_refusals_total')).toEqual([{ labels: { reason: 'private_address' }, value: 1 }])
    // Every known reason exists from the start at 0, so the first refusal is an increase for rate().
    expect(valueOf(m, 'mtls_gateway_caller_auth_failures_total', { reason: 'replay' })).toBe(0)
    // The throttles' refusals too, each under its own label (the admin token's, the token exchange's).
    expect(valueOf(m, 'mtls_gateway_caller_auth_failures_total', { reason: 'admin_token_throttled' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_caller_auth_failures_total', { reason: 'token_exchange_throttled' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_caller_auth_failures_total', { reason: 'throttled' })).toBeUndefined()
    expect(valueOf(m, 'mtls_gateway_egress_refusals_total', { reason: 'metadata' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_connect_tunnels_total', { kind: 'refused' })).toBe(0)
    expect(valueOf(m, 'mtls_gateway_worker_restarts_total')).toBe(0)
    expect(valueOf(m, 'mtls_gateway_requests_total', { endpoint: '_none', method: 'other', status_class: 'none' })).toBe(1)
    // Several certificates of one kind: the earliest expiry is the one to alert on.
    expect(samples(m, 'mtls_gateway_certificate_expiry_timestamp_seconds')).toEqual([{ labels: { endpoint: 'a', kind: 'intermediate' }, value: Date.UTC(2029, 0, 1) / 1000 }])
    // …and the latest start: a certificate of the set not valid yet makes the set unusable.
    expect(samples(m, 'mtls_gateway_certificate_not_before_timestamp_seconds')).toEqual([{ labels: { endpoint: 'a', kind: 'intermediate' }, value: Date.UTC(2026, 0, 1) / 1000 }])
  })

  it('maps methods and statuses to bounded labels', () => {
    expect([methodLabel('GET'), methodLabel('get'), methodLabel('X-CUSTOM')]).toEqual(['GET', 'other', 'other'])
    expect([statusClass(204), statusClass(502), statusClass(0)]).toEqual(['2xx', '5xx', 'none'])
  })
})

describe('log output', () => {
  it('is JSON with a level label, or one plain line when pretty is asked', () => {
    const json: string[] = []
    createLog({ destination: { write: (s: string) => void json.push(s) } }).logger.info({ endpoint: 'a' }, 'hello')
    expect(JSON.parse(json[0] as string)).toMatchObject({ level: 'info', endpoint: 'a', msg: 'hello', pid: process.pid })
    const pretty: string[] = []
    createLog({ format: 'pretty', destination: { write: (s: string) => void pretty.push(s) } }, ['s3cr3t-value']).logger.warn({ endpoint: 'a', note: 'two words', key: 's3cr3t-value' }, 'careful')
    expect(pretty[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z WARN  careful endpoint=a note="two words" key=\[REDACTED\]\n$/)
    expect(formatPretty('not json\n')).toBe('not json\n')
  })

  it('honours the level', () => {
    const lines: string[] = []
    const log = createLog({ level: 'warn', destination: { write: (s: string) => void lines.push(s) } })
    log.logger.info('hidden')
    log.logger.warn('shown')
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown'])
  })
})

describe('file watching', () => {
  it('fires once per real content change, debounced, and ignores unrelated files', async () => {
    const file = join(dir, 'watched.yaml')
    writeFileSync(file, 'a: 1\n')
    // Each firing records what it saw, so every check waits for a content, never for a time.
    const seen: string[] = []
    const w = watchFiles({ files: [file], debounceMs: 50, onChange: () => void seen.push(readFileSync(file, 'utf8')) })
    try {
      writeFileSync(file, 'a: 2\n')
      writeFileSync(file, 'a: 3\n')
      await eventually(() => seen.length > 0, 20_000, 'the first change')
      writeFileSync(file, 'a: 3\n') // same content: no reload
      writeFileSync(join(dir, 'unrelated.txt'), 'x')
      // A sentinel change, written after the debounce window: had the no-op writes fired, their
      // firing would sit between the two (a late machine can only merge them, never add one).
      await new Promise((r) => setTimeout(r, 200))
      writeFileSync(file, 'a: 4\n')
      await eventually(() => seen.includes('a: 4\n'), 20_000, 'the sentinel change')
      expect(seen).toEqual(['a: 3\n', 'a: 4\n'])
    } finally {
      w.close()
    }
  })

  it('fingerprints content and absence', () => {
    const a = join(dir, 'fp.txt')
    writeFileSync(a, 'one')
    const one = fingerprint([a])
    writeFileSync(a, 'two')
    expect(fingerprint([a])).not.toBe(one)
    expect(fingerprint([join(dir, 'missing')])).toBe(fingerprint([join(dir, 'missing')]))
  })
})
