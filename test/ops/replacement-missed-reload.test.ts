/**
 * A replacement worker gets the instance's config texts, then compiles and starts listening; a
 * reload the primary relays in between reaches a process that does not listen for it yet. Once
 * it serves, it asks for the texts again and reloads when the instance's config moved on, so
 * it never serves an older config than its siblings (before: until the next reload, every other
 * request got the old config — here 403 for an endpoint the reload added).
 *
 * Fault injection, not timing: a preload holds the replacement's listen() while a marker file
 * exists, so the reload deterministically lands in that window.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually } from './helpers.js'

const PRELOAD = `
const cluster = require('node:cluster'), net = require('node:net'), fs = require('node:fs')
const hold = process.env.HOLD_LISTEN_FILE
if (cluster.isWorker && hold) {
  const listen = net.Server.prototype.listen
  net.Server.prototype.listen = function (...args) {
    if (!fs.existsSync(hold)) return listen.apply(this, args)
    fs.writeFileSync(hold + '.held-' + process.pid, '')
    const t = setInterval(() => { if (!fs.existsSync(hold)) { clearInterval(t); listen.apply(this, args) } }, 20)
    return this
  }
}
`

let pki: TestPki
let gp: GatewayProcess
let config: string
let hold: string
let tls: Parameters<typeof endpointYaml>[2]

const entries = (): Record<string, unknown>[] => gp.logEntries()
const yaml = (names: string[]): string =>
  // No upstream listens on port 1: a configured endpoint answers 502 (dial refused), an unknown one 403.
  `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\nendpoints:\n${names.map((n) => endpointYaml(n, 1, tls)).join('')}`

beforeAll(async () => {
  pki = await createTestPki()
  tls = clientTls(pki)
  config = join(pki.dir, 'gateway.yaml')
  hold = join(pki.dir, 'hold-listen')
  const preload = pki.write('hold-listen.cjs', PRELOAD)
  writeFileSync(config, yaml(['first']))
  gp = await spawnGateway(config, ['--workers', '2'], { NODE_OPTIONS: `--require ${preload}`, HOLD_LISTEN_FILE: hold })
}, 120_000)

afterAll(async () => {
  await gp?.stop('SIGKILL')
  pki?.cleanup()
})

describe('a reload relayed while a replacement worker starts', () => {
  it('reaches the replacement once it serves: every worker serves the reloaded config', async () => {
    const primary = gp.child.pid as number
    const workers = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    writeFileSync(hold, '')
    process.kill(workers[0] as number, 'SIGKILL')
    // The replacement has its texts and compiled them; its listen() waits for the marker to go.
    await eventually(() => readdirSync(pki.dir).some((f) => f.startsWith('hold-listen.held-')), 60_000, 'the replacement to reach listen()')
    writeFileSync(config, yaml(['first', 'second']))
    process.kill(primary, 'SIGHUP')
    await eventually(() => entries().some((e) => e.msg === 'config reloaded' && e.endpoints === 2), 30_000, 'the surviving worker to reload')
    unlinkSync(hold)
    await eventually(() => entries().some((e) => e.msg === 'replacement worker listening'), 60_000, 'the replacement to listen')
    await eventually(() => entries().filter((e) => e.msg === 'config reloaded' && e.endpoints === 2).length >= 2, 30_000, 'the replacement to catch up with the reload')
    expect(existsSync(hold)).toBe(false)
    // Each call on its own connection: the primary hands connections to the workers in turn.
    const statuses = []
    for (let i = 0; i < 8; i++) statuses.push((await send(gp.url, `/proxy/second/x${i}`)).status)
    expect(statuses).toEqual(Array(8).fill(502))
  }, 180_000)
})
