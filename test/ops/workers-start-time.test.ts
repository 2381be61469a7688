/**
 * Stock Node.js dashboards and alerts read `time() - process_start_time_seconds` (uptime, "restarted
 * recently"). prom-client leaves that family out of a cluster aggregate, so with `--workers N` it
 * was missing from the instance's scrape (one process: present). The primary now reports the
 * earliest start, its own: the instance's, which a replaced worker does not move.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, samples, scrape } from './helpers.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let gp: GatewayProcess
let admin: string

beforeAll(async () => {
  pki = await createTestPki()
  const tls = clientTls(pki)
  const config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${endpointYaml('partner', 1, tls)}`)
  gp = await spawnGateway(config, ['--workers', '2'])
  admin = await adminUrlOf(gp)
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki?.cleanup()
})

describe('serve --workers 2: process_start_time_seconds', () => {
  it('is in the scrape once, the instance start, and a replaced worker does not move it', async () => {
    const before = samples(await scrape(admin), 'process_start_time_seconds')
    expect(before).toHaveLength(1)
    const worker = Number(execFileSync('pgrep', ['-P', String(gp.child.pid)], { encoding: 'utf8' }).trim().split('\n')[0])
    sendSignal(worker, 'SIGKILL', gp.child.pid)
    await eventually(() => gp.output.some((l) => l.includes('"replacement worker listening"')), 60_000, 'the replacement to listen')
    expect(samples(await scrape(admin), 'process_start_time_seconds')).toEqual(before)
  }, 120_000)
})
