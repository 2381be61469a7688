/**
 * With `serve --workers 2` the primary's scrape sums the workers' series, and keeps what exited
 * workers counted and each worker's last answer (retained-metrics.ts). An endpoint and a
 * profile a reload removes leave none of it behind: not from a worker that exited before the
 * reload, nor one that exits after it with an answer from before, nor one that does not answer
 * in time, nor the replacements. Added back, they start as after a fresh start; a kept
 * endpoint keeps its counts throughout. (One process, and generated configs: reload-series.property.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { eventually, replaceFile, scrape, spawnTwoWorkers, valueOf, type Sample } from './helpers.js'
import { sendSignal } from '../support/signals.js'

/** Calls on each endpoint. */
const CALLS = 12

let pki: TestPki
let upstream: RunningServer
let dir: string
let gp: GatewayProcess | undefined

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  dir = mkdtempSync(join(tmpdir(), 'reload-series-workers-'))
})

afterAll(async () => {
  await gp?.stop('SIGKILL')
  await upstream?.close()
  pki?.cleanup()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** `partner`, and with `gone` the endpoint `gone` signing with the profile `gone-profile`. */
const yamlOf = (gone: boolean): string =>
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}` +
  (gone ? `${endpointYaml('gone', upstream.port, clientTls(pki), '    profile: gone-profile\n')}profiles:\n  - { name: gone-profile, consumerKey: ck, consumerSecret: cs }\n` : '')

/** The series (name and labels) naming the removed endpoint or profile, with their values. */
const naming = (all: readonly Sample[]): string[] =>
  all.filter((s) => s.labels.endpoint === 'gone' || s.labels.profile === 'gone-profile').map((s) => `${s.name}${JSON.stringify(s.labels)} ${s.value}`).sort()

const partnerCalls = (all: Sample[]): number | undefined => valueOf(all, 'mtls_gateway_requests_total', { endpoint: 'partner', method: 'GET', status_class: '2xx' })

describe('series of an endpoint and a profile a reload removes, with `serve --workers 2`', () => {
  it('leave the instance\'s scrape, workers that exited or stay silent and their replacements included, and start afresh when added back', async () => {
    const { gp: primary, config } = await spawnTwoWorkers(dir, yamlOf(true))
    gp = primary
    const admin = await adminUrlOf(primary)
    const entries = (msg: string): Record<string, unknown>[] => primary.logEntries().filter((e) => e.msg === msg)
    const atStart = naming(await scrape(admin))
    expect(atStart.length).toBeGreaterThan(0)
    for (let i = 0; i < CALLS; i++) {
      expect((await send(primary.url, `/proxy/gone/g${i}`)).status).toBe(200)
      expect((await send(primary.url, `/proxy/partner/p${i}`)).status).toBe(200)
    }
    // Each worker's answer to this scrape is what the primary keeps of it.
    const served = await eventually(async () => {
      const m = await scrape(admin)
      return valueOf(m, 'mtls_gateway_requests_total', { endpoint: 'gone', method: 'GET', status_class: '2xx' }) === CALLS && partnerCalls(m) === CALLS && m
    }, 30_000, 'every call counted')
    expect(valueOf(served, 'mtls_gateway_oauth_signatures_total', { profile: 'gone-profile', method: 'HMAC-SHA1' })).toBe(CALLS)
    const workers = [...new Set(entries('request').map((e) => e.pid as number))]
    expect(workers).toHaveLength(2)
    const [first, second] = workers as [number, number]

    // One worker exits before the reload: its counts join what the primary keeps of exited workers.
    sendSignal(first, 'SIGKILL', primary.child.pid)
    await eventually(() => entries('replacement worker listening').length >= 1, 60_000, 'the replacement worker')
    replaceFile(config, yamlOf(false))
    await eventually(() => entries('reload accepted by every worker').length >= 1, 60_000, 'the reload')
    // The other one answers no scrape now: it counts at its last answer, from before the reload.
    sendSignal(second, 'SIGSTOP', primary.child.pid)
    let silent: Sample[]
    try {
      silent = await scrape(admin)
    } finally {
      sendSignal(second, 'SIGCONT')
    }
    expect(naming(silent)).toEqual([])
    expect(partnerCalls(silent)).toBe(CALLS)
    // It exits with that answer; its replacement runs the reloaded config.
    sendSignal(second, 'SIGKILL')
    await eventually(() => entries('replacement worker listening').length >= 2, 60_000, 'the second replacement worker')
    const replaced = await scrape(admin)
    expect(naming(replaced)).toEqual([])
    expect(partnerCalls(replaced)).toBe(CALLS)

    // Added back: as at a fresh start, not at the counts from before.
    replaceFile(config, yamlOf(true))
    await eventually(() => entries('reload accepted by every worker').length >= 2, 60_000, 'the reload adding it back')
    const back = await scrape(admin)
    expect(naming(back)).toEqual(atStart)
    expect(partnerCalls(back)).toBe(CALLS)
  }, 300_000)
})
