/**
 * What a caller's `traceparent` can make the gateway export (docs/tracing.md, Sampling): with
 * `sampler.parentBased: true` its sampled flag wins; with `false` nothing the caller sends decides,
 * neither the flag nor the trace id it picks (the trace-id ratio passes any id whose four 32-bit
 * words XOR to a small number, whatever the ratio). Either way the caller's trace id is continued
 * upstream and logged. A seeded property over generated `traceparent` headers (valid, hostile trace
 * ids, malformed; sampled flag on and off) and junk requests, against `serve --workers 2` exporting
 * to a real OTLP/HTTP receiver and a real mTLS backend recording the `traceparent` it receives,
 * under `parentBased: false` from the start, after a SIGHUP reload to `true`, and after one back.
 * The ratio is 1e-9: a trace the gateway starts is never recorded in this test.
 */
import { randomBytes } from 'node:crypto'
import { connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { startOtlpReceiver, SPAN_KIND, type OtlpReceiver } from '../support/otlp-receiver.js'
import { answeredBy, entriesWhen } from '../support/log-entries.js'
import { childPids } from '../ops/helpers.js'

const WORKERS = 2
let pki: TestPki
let upstream: RunningServer
let receiver: OtlpReceiver
let gp: GatewayProcess
let configFile: string

const yaml = (parentBased: boolean): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ntracing:\n  enabled: true\n  sampler: { ratio: 0.000000001, parentBased: ${parentBased} }\n  otlp: { endpoint: ${receiver.url} }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  receiver = await startOtlpReceiver()
  configFile = join(pki.dir, 'gateway.yaml')
  writeFileSync(configFile, yaml(false))
  gp = await spawnGateway(configFile, ['--workers', String(WORKERS)])
}, 120_000)
afterAll(async () => {
  await gp?.stop('SIGKILL')
  await receiver?.close()
  await upstream?.close()
  pki?.cleanup()
})

const hex = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`))
const word = (n: number): string => (n >>> 0).toString(16).padStart(8, '0')
/** A trace id a hostile caller picks: three random words and a fourth making their XOR `low` (the ratio's hash, 0..3). */
const hostileTraceId = fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 3 })).map(([a, b, c, low]) => [a, b, c, a ^ b ^ c ^ low].map(word).join('')).filter((t) => !/^0+$/.test(t))
const traceId = fc.oneof(hex(32).filter((t) => !/^0+$/.test(t)), hostileTraceId)
const spanId = hex(16).filter((s) => !/^0+$/.test(s))
const flags = fc.constantFrom('00', '01', '02', '03', 'ff')

/** A generated `traceparent`, and the trace id the gateway must continue (undefined: not valid, a new trace). */
interface Header { value: string; continues?: string; sampled: boolean }
const valid: fc.Arbitrary<Header> = fc.tuple(traceId, spanId, flags).map(([t, s, f]) => ({ value: `00-${t}-${s}-${f}`, continues: t, sampled: (parseInt(f, 16) & 1) === 1 }))
const malformed: fc.Arbitrary<Header> = fc.tuple(traceId, spanId, fc.constantFrom('01', '03')).chain(([t, s, f]) =>
  fc.constantFrom(`00-${t.toUpperCase()}-${s}-${f}`, `00-${'0'.repeat(32)}-${s}-${f}`, `00-${t}-${'0'.repeat(16)}-${f}`, `00-${t.slice(1)}-${s}-${f}`, `ff-${t}-${s}-${f}`, `00-${t}-${s}-${f}-extra`, `00_${t}_${s}_${f}`).map((value) => ({ value, sampled: true })),
)
const header = fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: malformed, weight: 1 })

/** What one request showed: the traceparent the backend received, and whether its trace must be exported. */
interface Sent { upstreamTraceId: string; upstreamSampled: boolean; exported: boolean }
const sent: Sent[] = []

/** Bytes Node's HTTP parser refuses: the gateway gives the 400 a server span of its own, in a new trace. */
function junk(): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect(Number(new URL(gp.url).port), '127.0.0.1', () => socket.write('\x16\x03\x01 junk \x00\r\n\r\n'))
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
    socket.resume()
  })
}

async function run(parentBased: boolean, seed: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(header, fc.boolean(), async (h, withJunk) => {
      if (withJunk) await junk()
      const from = gp.output.length
      const r = await send(gp.url, '/proxy/partner/caller-sampling', { headers: { traceparent: h.value } })
      expect(r.status).toBe(200)
      const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-0([01])$/.exec(String(r.json<EchoReply>().headers.traceparent))
      expect(m, `the backend's traceparent for ${h.value}`).not.toBeNull()
      const [, upstreamTraceId, flag] = m as RegExpExecArray
      // The caller's trace is continued whether or not it is recorded; a malformed header starts a new one.
      if (h.continues !== undefined) expect(upstreamTraceId).toBe(h.continues)
      else expect(h.value).not.toContain(upstreamTraceId as string)
      const exported = parentBased && h.continues !== undefined && h.sampled
      expect(flag === '1', `sampled upstream for ${h.value} (parentBased ${parentBased})`).toBe(exported)
      await entriesWhen(gp, (e) => e.msg === 'request' && e.trace_id === upstreamTraceId, 1, { from, what: `the access line of ${h.value}` })
      sent.push({ upstreamTraceId: upstreamTraceId as string, upstreamSampled: flag === '1', exported })
    }),
    { seed, numRuns: 25 },
  )
}

/**
 * Rewrites the config, sends SIGHUP and waits until each worker honours a sampled caller flag as
 * `parentBased` says (a `config reloaded` line may be the previous write's second reload: its
 * directory watcher's).
 */
async function reloadTo(parentBased: boolean): Promise<void> {
  writeFileSync(configFile, yaml(parentBased))
  gp.child.kill('SIGHUP')
  const probe = (tag: string): Promise<string> => send(gp.url, '/proxy/partner/caller-sampling-reload', { headers: { traceparent: `00-${randomBytes(16).toString('hex')}-${'1'.repeat(16)}-01`, 'x-request-id': tag } }).then((r) => String(r.json<EchoReply>().headers.traceparent))
  await answeredBy(gp, childPids(gp.child.pid as number), probe, (upstream) => upstream.endsWith(parentBased ? '-01' : '-00'), `parentBased ${parentBased}`)
}

describe('a caller\'s traceparent and what is exported (seeded property, serve --workers 2)', () => {
  it('parentBased false from the start, true after a reload, false after another: only an honoured sampled flag exports; ids always continue', async () => {
    await run(false, 3401)
    await reloadTo(true)
    await run(true, 3402)
    await reloadTo(false)
    await run(false, 3403)
    // SIGTERM flushes every worker's buffered spans before it exits: then the receiver holds all.
    expect(await gp.stop('SIGTERM')).toBe(0)
    const exportedIds = new Set(receiver.spans.map((s) => s.traceId))
    for (const s of sent) expect(exportedIds.has(s.upstreamTraceId), `trace ${s.upstreamTraceId} exported`).toBe(s.exported)
    for (const s of sent.filter((x) => x.exported)) {
      expect(receiver.spans.filter((x) => x.traceId === s.upstreamTraceId).map((x) => x.kind)).toEqual(expect.arrayContaining([SPAN_KIND.SERVER, SPAN_KIND.CLIENT]))
    }
    // A junk request has no trusted parent: the ratio (1e-9) decides, and it is never exported.
    expect(receiver.spans.filter((x) => x.name === 'HTTP')).toEqual([])
    expect(gp.logEntries().filter((e) => e.msg === 'request' && e.method === '-' && typeof e.trace_id === 'string').length).toBeGreaterThan(0)
    expect(sent.some((s) => s.exported)).toBe(true)
  }, 300_000)
})
