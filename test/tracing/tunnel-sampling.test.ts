/**
 * The sampling rule for the requests inside an intercepted CONNECT tunnel with
 * `sampler.parentBased: false` (docs/tracing.md, Sampling): the tunnel is one decision, made when
 * it opens; an inner request without its own `traceparent` follows it (a recorded tunnel records
 * all of them, in its trace), also after a reload that changed the ratio; an inner request with its
 * own `traceparent` is decided on a draw under the sampler in force, as outside a tunnel; a tunnel
 * opened after the reload is decided under the new ratio. Each decision read from the sampled flag
 * of the `traceparent` the echo backend received. serve --workers 1, a real CONNECT tunnel with a
 * minted leaf, a SIGHUP reload.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeInterceptionCa } from '../../src/tls/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type EchoReply, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { TunnelAgent } from '../support/tunnel.js'
import { eventually } from '../support/eventually.js'

let pki: TestPki
let upstream: RunningServer
let gp: GatewayProcess
let configFile: string
let ca: { caCert: string; caKey: string }
const agents: TunnelAgent[] = []

const yaml = (ratio: number): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ncallers: { required: false }\ninterception: { caCert: ${ca.caCert}, caKey: ${ca.caKey} }\ntracing:\n  enabled: true\n  sampler: { ratio: ${ratio}, parentBased: false }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`

beforeAll(async () => {
  pki = await createTestPki()
  ca = await writeInterceptionCa(join(pki.dir, 'ica'))
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  configFile = join(pki.dir, 'gateway.yaml')
  writeFileSync(configFile, yaml(1))
  gp = await spawnGateway(configFile, ['--workers', '1'])
}, 120_000)

afterAll(async () => {
  for (const a of agents) a.destroy()
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
})

/** A tunnel (one keep-alive connection: every request on it goes through the same CONNECT). */
function tunnel(): TunnelAgent {
  const agent = new TunnelAgent({ gatewayPort: Number(new URL(gp.url).port), authority: `api.partner.test:${upstream.port}`, ca: readFileSync(ca.caCert) })
  agents.push(agent)
  return agent
}

/** One inner request; the trace id and sampled flag of the traceparent the backend received. */
function inner(agent: TunnelAgent, traceparent?: string): Promise<{ traceId: string; sampled: boolean }> {
  const headers: Record<string, string> = { host: `api.partner.test:${upstream.port}`, ...(traceparent ? { traceparent } : {}) }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ agent, host: 'api.partner.test', port: upstream.port, path: '/inner', headers }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const [, traceId, , flags] = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as EchoReply).headers.traceparent).split('-')
        resolve({ traceId: traceId ?? '', sampled: flags === '01' })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

const callerContext = (n: number): string => `00-${n.toString(16).padStart(32, 'a')}-${'b'.repeat(16)}-00`

describe('requests inside a tunnel with parentBased: false', () => {
  it('follow the tunnel without a traceparent (also after a reload), are drawn with one; a new tunnel takes the new ratio', async () => {
    const opened = tunnel()
    const before = [await inner(opened), await inner(opened), await inner(opened)]
    // Ratio 1: the tunnel is recorded, and so is every request in it, in the tunnel's trace.
    expect(before.map((r) => r.sampled)).toEqual([true, true, true])
    expect(new Set(before.map((r) => r.traceId)).size).toBe(1)
    expect(await inner(opened, callerContext(1))).toEqual({ traceId: callerContext(1).split('-')[1], sampled: true })

    const from = gp.output.length
    writeFileSync(configFile, yaml(0))
    gp.child.kill('SIGHUP')
    await eventually(() => gp.logEntries(from).some((e) => e.msg === 'config reloaded'), 60_000, 'the reload')

    // The open tunnel stays recorded: its requests without a traceparent still follow it ...
    const after = [await inner(opened), await inner(opened)]
    expect(after).toEqual([{ traceId: before[0]?.traceId, sampled: true }, { traceId: before[0]?.traceId, sampled: true }])
    // ... one with its own traceparent is drawn under the ratio in force (0): not recorded.
    expect(await inner(opened, callerContext(2))).toEqual({ traceId: callerContext(2).split('-')[1], sampled: false })
    // A tunnel opened after the reload is decided under ratio 0, and its requests follow it.
    const later = tunnel()
    const fresh = [await inner(later), await inner(later)]
    expect(fresh.map((r) => r.sampled)).toEqual([false, false])
    expect(fresh[0]?.traceId).not.toBe(before[0]?.traceId)
  }, 180_000)
})
