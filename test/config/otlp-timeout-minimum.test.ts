/**
 * `tracing.otlp.timeout` is at least 1 ms. OpenTelemetry's OTLP exporter throws when given a timeout
 * of 0 ms: `timeout: 0` (or `0.4ms`, rounded to 0) passed `check`, and then `serve` died at start with
 * the library's "Configuration: timeoutMillis is invalid", naming no file or key. Any written value
 * under 1 ms is now refused where the file is read (`check`, start, reload, the console's draft),
 * naming the key and the value; any from 1 ms to the 60 s maximum (test/config/duration-maxima.test.ts
 * holds the refusal above it) loads as written and the real exporter takes it.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { stringify } from 'yaml'
import { expect, it } from 'vitest'
import { parseConfig, parseDuration } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'
import { MAIN } from '../support/process.js'

const FILE = '/etc/mtls-gateway/gateway.yaml'
const ENDPOINT = 'http://127.0.0.1:4318/v1/traces'

const yaml = (timeout: string | number): string =>
  stringify({
    endpoints: [{ name: 'partner', url: 'https://api.partner.test', tls: { cert: 'c.pem', key: 'k.pem', roots: 'r.pem' } }],
    tracing: { enabled: true, otlp: { endpoint: ENDPOINT, timeout } },
  })

it('refuses any timeout that is 0 ms once rounded, naming the key and the value', () => {
  const zero = fc.oneof(fc.constantFrom(0, '0ms', '0s', '0m', '0h', '0.4ms', '0.0001s'), fc.integer({ min: 0, max: 4 }).map((d) => `0.${d}ms`))
  fc.assert(
    fc.property(zero, (value) => {
      expect(configErrorLines(() => parseConfig(FILE, yaml(value), { env: {} }))).toEqual([
        expect.stringMatching(new RegExp(`^${FILE}:\\d+:\\d+: tracing\\.otlp\\.timeout: ${String(value).replace('.', '\\.')} is less than 1ms: an export must be given some time`)),
      ])
    }),
    { seed: 0x07e1, numRuns: 30 },
  )
})

it('loads any timeout from 1 ms to its maximum (60 s) as written, and the real exporter takes it', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer({ min: 1, max: 60_000 }), fc.constantFrom('1ms', '0.5ms', '0.001s', '10s', '60s', '1m')), (value) => {
      const otlp = parseConfig(FILE, yaml(value), { env: {} }).tracing.otlp
      expect(otlp?.timeoutMs).toBe(parseDuration(value))
      expect(() => new OTLPTraceExporter({ url: ENDPOINT, timeoutMillis: otlp?.timeoutMs ?? 0 })).not.toThrow()
    }),
    { seed: 0x07e1, numRuns: 30 },
  )
  // What the gateway met at start before: the exporter refuses 0.
  expect(() => new OTLPTraceExporter({ url: ENDPOINT, timeoutMillis: 0 })).toThrow(/timeoutMillis is invalid/)
})

it('`check` exits 1 naming the key (it passed, and `serve` then died on the library\'s message)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-otlp-timeout-'))
  try {
    writeFileSync(join(dir, 'gateway.yaml'), yaml(0))
    const r = spawnSync(process.execPath, [MAIN, 'check', '--config', join(dir, 'gateway.yaml')], { encoding: 'utf8' })
    expect(r.status).toBe(1)
    expect(r.stdout + r.stderr).toMatch(/gateway\.yaml:\d+:\d+: tracing\.otlp\.timeout: 0 is less than 1ms: an export must be given some time/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
