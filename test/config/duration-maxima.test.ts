/**
 * Every duration the gateway waits on with a timer has a maximum (the schema's `maxDuration`):
 * Node's timers hold at most 2^31 − 1 ms, and a longer delay fired after 1 ms (`endpoints[].timeouts.connect: 720h`
 * made every upstream call a 504 at once; `drain.grace: 1000h` exited 1 at once). So has `interception.leafValidity`:
 * a leaf's notAfter past the year 9999 cannot be written, and every intercepted CONNECT failed to mint. So have the
 * lifetimes the store keeps (`callers.bearerTtl`, `anonymousTtl`; `clockSkew`, how long past `exp` a token is accepted, at most 1h): Redis
 * refuses an expiry past a signed 64-bit count of milliseconds (test/callers/lifetime-maxima-store.test.ts). A value up
 * to the maximum loads as written; one past it is refused where the file is read, one line naming the key, the
 * value, the maximum and why. The keys come from the schema, so a new bounded duration is covered as soon as it
 * declares its maximum, and a new duration without one must be listed here.
 */
import fc from 'fast-check'
import { stringify } from 'yaml'
import { describe, expect, it } from 'vitest'
import { configSchema, MAX_TIMER_MS, parseConfig, parseDuration, type GatewayConfig } from '../../src/config/index.js'
import { createInterceptionCa, createMinter, loadInterceptionCa } from '../../src/tls/index.js'
import { configErrorLines } from '../support/config-problems.js'

const FILE = '/etc/mtls-gateway/gateway.yaml'
// The base config's app secret (a reference, as in production).
const ENV = { BOT_SECRET: 'duration-maxima-app-secret-0123456789abcdef' }

/** Durations bounded for another reason than a timer. */
const OTHER_BOUNDS = ['callers.anonymousTtl', 'callers.apps[0].jwtMaxLifetime', 'callers.bearerTtl', 'callers.clockSkew', 'callers.jwtMaxLifetime', 'interception.leafValidity', 'tracing.otlp.timeout']

interface Bound {
  max: string
  why: string
}

interface Node {
  $comment?: string
  maxDuration?: Bound
  properties?: Record<string, Node>
  items?: Node
}

/** [path, maximum] of every duration in the schema (list items as `[0]`); maximum undefined when it has none. */
function durations(node: Node, path: (string | number)[] = [], out: [(string | number)[], Bound | undefined][] = []): [(string | number)[], Bound | undefined][] {
  if (node.$comment === 'duration') out.push([path, node.maxDuration])
  for (const [key, child] of Object.entries(node.properties ?? {})) durations(child, [...path, key], out)
  if (node.items) durations(node.items, [...path, 0], out)
  return out
}

const dotted = (path: (string | number)[]): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
const ALL = durations(configSchema as unknown as Node)
const BOUNDED = ALL.filter((d): d is [(string | number)[], Bound] => d[1] !== undefined)
const TIMER_WHY = `the gateway waits on a timer for it, and a timer holds at most ${MAX_TIMER_MS} ms (about 24.8 days)`

/** A config every timed key can sit in (files are not read by parseConfig). */
function base(): Record<string, unknown> {
  return {
    endpoints: [{ name: 'partner', url: 'https://api.partner.test', tls: { cert: 'c.pem', key: 'k.pem', roots: 'r.pem' } }],
    interception: { caCert: 'ca.pem', caKey: 'ca.key', passThrough: [{ host: 'pass.test' }] },
    // acknowledgeTimeout must stay below commandTimeout: each is tested with the other out of its way.
    store: { kind: 'redis', url: 'redis://127.0.0.1:6379', redis: { acknowledgeTimeout: 0, commandTimeout: '298h' } },
    tracing: { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' } },
    // An app whole but for the duration under test (callers.apps[].jwtMaxLifetime).
    callers: { apps: [{ clientId: 'bot', audience: 'mtls-gateway', hs256Secret: '${env:BOT_SECRET}' }] },
  }
}

function withValue(path: (string | number)[], value: string | number): string {
  const root = base()
  let at = root as Record<string | number, unknown>
  path.slice(0, -1).forEach((key, i) => {
    at[key] ??= typeof path[i + 1] === 'number' ? [{}] : {}
    at = at[key] as Record<string | number, unknown>
  })
  at[path.at(-1) as string | number] = value
  return stringify(root)
}

/** The normalised milliseconds of `path` (`…timeouts.response` → `…timeouts.responseMs`; the callers' `…Sec` ones in whole seconds). */
function normalisedMs(config: GatewayConfig, path: (string | number)[]): unknown {
  let at: unknown = config
  for (const key of path.slice(0, -1)) at = (at as Record<string | number, unknown>)[key]
  const node = at as Record<string, unknown>
  const key = String(path.at(-1))
  return `${key}Sec` in node ? (node[`${key}Sec`] as number) * 1000 : node[`${key}Ms`]
}

/** What normalisation keeps of a written duration (the callers' `…Sec` ones: whole seconds). */
const expectedMs = (path: (string | number)[], value: string | number): number =>
  ['clockSkew', 'bearerTtl'].includes(String(path.at(-1))) ? Math.round(parseDuration(value) / 1000) * 1000 : parseDuration(value)

const UNITS = [['ms', 1], ['s', 1000], ['m', 60_000], ['h', 3_600_000]] as const

/** A written duration (integer milliseconds, or a whole or decimal number of a unit) of `lo`..`hi` ms. */
function writtenBetween(lo: number, hi: number): fc.Arbitrary<string | number> {
  // Past 2^53 ms (the store lifetimes' maxima) whole milliseconds are no longer exact: hours only.
  if (lo > Number.MAX_SAFE_INTEGER / 2) return fc.integer({ min: Math.ceil(lo / 3_600_000), max: Math.floor(hi / 3_600_000) }).map((n) => `${n}h`)
  const integer = fc.integer({ min: lo, max: Math.min(hi, Number.MAX_SAFE_INTEGER) })
  const inUnit = fc.constantFrom(...UNITS).chain(([unit, ms]): fc.Arbitrary<string | number> => {
    const min = Math.ceil(lo / ms)
    const max = Math.floor(hi / ms)
    if (min > max) return integer
    return fc.tuple(fc.integer({ min, max }), fc.integer({ min: 0, max: 9 })).map(([n, tenth]) => (tenth > 0 && (n + tenth / 10) * ms <= hi && n < max ? `${n}.${tenth}${unit}` : `${n}${unit}`))
  })
  return fc.oneof(integer, inUnit)
}

it('every duration in the schema has a maximum', () => {
  expect(ALL.filter((d) => d[1] === undefined).map((d) => dotted(d[0]))).toEqual([])
  const timed = BOUNDED.filter(([, b]) => b.why === TIMER_WHY)
  expect(BOUNDED.filter(([, b]) => b.why !== TIMER_WHY).map((d) => dotted(d[0])).sort()).toEqual(OTHER_BOUNDS)
  expect(timed.length).toBeGreaterThanOrEqual(20)
  // Every timer's maximum fits with room for the margins added to some (the kill after the grace, Node's keep-alive buffer).
  for (const [, { max }] of timed) expect(parseDuration(max) + 60_000).toBeLessThanOrEqual(MAX_TIMER_MS)
})

describe.each(BOUNDED.map(([path, { max, why }]) => [dotted(path), path, max, why] as const))('%s', (name, path, max, why) => {
  const maxMs = parseDuration(max)

  it(`loads any value up to ${max} as written`, () => {
    // acknowledgeTimeout must also stay below commandTimeout (298h in the base config).
    const hi = name === 'store.redis.acknowledgeTimeout' ? maxMs - 1 : maxMs
    // Minima (normalize-services.ts, normalize-redis.ts, normalize-tracing.ts, normalize-limits.ts): bearerTtl and anonymousTtl 1 s, leafValidity 1m, the OTLP timeout and an endpoint's keepAlive 1 ms.
    const lo = ({ 'store.redis.commandTimeout': 1, 'callers.bearerTtl': 1000, 'callers.anonymousTtl': 1000, 'interception.leafValidity': 60_000, 'tracing.otlp.timeout': 1, 'endpoints[0].timeouts.keepAlive': 1 } as Record<string, number>)[name] ?? 0
    fc.assert(
      fc.property(fc.oneof(writtenBetween(lo, hi), fc.constant(hi)), (value) => {
        const config = parseConfig(FILE, withValue(path, value), { env: ENV })
        expect(normalisedMs(config, path)).toBe(expectedMs(path, value))
      }),
      { seed: 0x7e1e, numRuns: 40 },
    )
  })

  it(`refuses any value past ${max}, naming the key, the value and the maximum`, () => {
    // Past 2^53 ms maxMs + 1 is maxMs again: the next whole hour is the first value written past such a maximum.
    const next = maxMs + 1 > maxMs ? maxMs + 1 : `${Number(max.slice(0, -1)) + 1}h`
    fc.assert(
      fc.property(fc.oneof(writtenBetween(maxMs + 1, maxMs * 10_000), fc.constant(next), fc.constant('99999999999999h')), (value) => {
        const lines = configErrorLines(() => parseConfig(FILE, withValue(path, value), { env: ENV }))
        expect(lines).toHaveLength(1)
        // A number is milliseconds: it reads `N ms`, and the maximum is given in milliseconds too.
        const written = typeof value === 'number' ? `${value} ms is longer than the maximum, ${max} \\(${maxMs} ms\\)` : `${value.replace('.', '\\.')} is longer than the maximum, ${max}`
        expect(lines[0]).toMatch(new RegExp(`^${FILE}:\\d+:\\d+: ${name.replace(/[[\].]/g, '\\$&')}: ${written}: `))
        expect(lines[0]?.endsWith(`: ${why}`)).toBe(true)
      }),
      { seed: 0x7e1e, numRuns: 40 },
    )
  })
})

it('a value that is no duration still says what a duration is (the maximum is not checked on it)', () => {
  const lines = configErrorLines(() => parseConfig(FILE, withValue(['drain', 'grace'], '10 days'), { env: ENV }))
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/: drain\.grace: invalid value: expected a duration such as 250ms, 5s, 2m, 1h, or a number of milliseconds; write 240h \(units: ms, s, m, h\)$/)
})

it('a leaf minted with the longest leafValidity is a certificate; a validity ending past the year 9999 could not be minted', async () => {
  const { certPem, keyPem } = await createInterceptionCa()
  const { ca } = loadInterceptionCa(certPem, keyPem)
  if (!ca) throw new Error('the test CA did not load')
  const longest = await createMinter({ ca, validityMs: parseDuration('876000h'), cacheSize: 4 })
  // A DNS name (spliced into the template leaf) and an IP literal (issued in full).
  await expect(longest.contextFor('api.partner.test')).resolves.toBeDefined()
  await expect(longest.contextFor('192.0.2.7')).resolves.toBeDefined()
  await expect(createMinter({ ca, validityMs: parseDuration('100000000h'), cacheSize: 4 })).rejects.toThrow(/time is too short/)
})
