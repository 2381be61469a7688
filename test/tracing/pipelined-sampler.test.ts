/**
 * A request pipelined behind a slow one is traced under the `tracing.sampler` in force at its
 * turn, as it is served under that snapshot (pin-snapshot.ts), not the one in force when Node
 * parsed it: a reload between parse and turn that changes the ratio decides its sampling. The
 * sampled flag is read where it shows: in the `traceparent` the backend receives (its client
 * span's, a child of the request span). In-process gateway with ops (reloads by `ops.reload`),
 * a real mTLS backend holding requests, two requests pipelined on one raw connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api'
import fc from 'fast-check'
import { SamplingDecision } from '@opentelemetry/sdk-trace-base'
import { connect as tcpConnect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { endpointYaml } from '../support/gateway.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { echo, startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { eventually, replaceFile, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { createSampler, withSamplerSettings } from '../../src/tracing/sampler.js'

let pki: TestPki
let upstream: RunningServer
let g: OpsGateway
/** Backend requests held until released, with the traceparent each arrived with. */
const held: { path: string; traceparent: string; release: () => void }[] = []

const yaml = (ratio: number): string =>
  `admin: { host: 127.0.0.1, port: 0 }\ncallers: { required: false }\ntracing: { enabled: true, sampler: { ratio: ${ratio} } }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  const handler = (req: IncomingMessage, res: ServerResponse): void =>
    void held.push({ path: req.url ?? '', traceparent: String(req.headers.traceparent), release: () => echo(req, res) })
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  g = await startOpsGateway(pki.dir, yaml(0), { watch: false })
})

afterAll(async () => {
  for (const h of held.splice(0)) h.release()
  await g?.gw.close()
  await upstream?.close()
  pki?.cleanup()
})

/** The sampled flag of a W3C traceparent. */
const sampled = (traceparent: string): boolean => {
  const m = /^00-[0-9a-f]{32}-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(traceparent)
  if (!m) throw new Error(`not a traceparent: ${traceparent}`)
  return (parseInt(m[1] as string, 16) & 1) === 1
}

/**
 * Pipelines `<name>-first` and `<name>-behind` on one connection, reloads to `ratio` while the
 * first is held (the one behind is parsed, not yet served), releases it; returns the sampled
 * flag each request reached the backend with.
 */
async function acrossReload(name: string, ratio: number): Promise<{ first: boolean; behind: boolean }> {
  const socket = tcpConnect(g.gw.port, '127.0.0.1')
  socket.on('error', () => undefined)
  let answered = 0
  socket.on('data', (c: Buffer) => void (answered += [...c.toString('latin1').matchAll(/HTTP\/1\.1 200 /g)].length))
  const request = (path: string): string => `GET /proxy/partner/${path} HTTP/1.1\r\nHost: gateway\r\n\r\n`
  socket.write(request(`${name}-first`) + request(`${name}-behind`))
  await eventually(() => held.length === 1, 20_000, 'the backend to hold the first request')
  replaceFile(join(pki.dir, 'gateway.yaml'), yaml(ratio))
  expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
  expect(g.gw.ref.current.config.tracing.sampler.ratio).toBe(ratio)
  const first = held.splice(0)
  first.forEach((h) => h.release())
  await eventually(() => held.length === 1, 20_000, 'the backend to receive the request behind')
  const behind = held.splice(0)
  behind.forEach((h) => h.release())
  await eventually(() => answered === 2, 20_000, 'both answers')
  socket.destroy()
  expect([first[0]?.path, behind[0]?.path]).toEqual([`/${name}-first`, `/${name}-behind`])
  return { first: sampled(first[0]?.traceparent ?? ''), behind: sampled(behind[0]?.traceparent ?? '') }
}

describe('tracing.sampler for a request pipelined across a reload', () => {
  it('the ratio in force at its turn decides, both ways (0 → 1, then 1 → 0)', async () => {
    expect(await acrossReload('up', 1)).toEqual({ first: false, behind: true })
    expect(await acrossReload('down', 0)).toEqual({ first: true, behind: false })
  })
})

describe('the sampler', () => {
  it('decides under the settings a context carries, else under those in force', () => {
    const sampler = createSampler(() => ({ ratio: 1, parentBased: true }))
    const decide = (context = ROOT_CONTEXT): SamplingDecision => sampler.shouldSample(context, 'ab'.repeat(16), 'request', SpanKind.SERVER, {}, []).decision
    expect(decide()).toBe(SamplingDecision.RECORD_AND_SAMPLED)
    expect(decide(withSamplerSettings(ROOT_CONTEXT, { ratio: 0, parentBased: true }))).toBe(SamplingDecision.NOT_RECORD)
    expect(decide(withSamplerSettings(ROOT_CONTEXT, undefined))).toBe(SamplingDecision.RECORD_AND_SAMPLED)
  })

  it('with parentBased false, a caller\'s context is decided by the draw alone (not its trace id or flag); a span below the gateway\'s own follows it (seeded property)', () => {
    const hexOf = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`)).filter((x) => !/^0+$/.test(x))
    fc.assert(
      fc.property(hexOf(32), hexOf(16), fc.integer({ min: 0, max: 3 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.boolean(), (traceId, spanId, traceFlags, ratio, drawn, isRemote) => {
        const sampler = createSampler(() => ({ ratio, parentBased: false }), () => drawn)
        const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags, isRemote })
        const decision = sampler.shouldSample(parent, traceId, 'request', SpanKind.SERVER, {}, []).decision
        const recorded = isRemote ? drawn < ratio : (traceFlags & 1) === 1
        expect(decision).toBe(recorded ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD)
      }),
      { seed: 3404, numRuns: 300 },
    )
  })
})
