/**
 * `endpoint degraded` (and `interception degraded`, the same path) is said once per instance when
 * the condition starts, and `endpoint no longer degraded` once when it ends, with `--workers 2`:
 * by the primary, from what the workers report. Before, each worker logged it on each config it
 * adopted (N copies at the start, one more per replacement, N per reload that kept it), and a
 * certificate that expired or became valid while the instance ran was never logged at all. What
 * each worker refuses stays its own: the degraded endpoint answers 502 on every worker. A reload
 * the instance refuses changes nothing said, though a worker built it (and could not go back).
 *
 * Real processes: `serve --workers 2`, a real mTLS upstream. The certificates' dates are real; for a
 * date passing while the instance runs, a preload moves its processes' clock past it (clock-jump.ts).
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHECK_MS } from '../../src/ops/degradation-log.js'
import { CLOCK_JUMP } from '../support/clock-jump.js'
import { clientTls } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { finalEntries } from '../support/log-entries.js'
import type { GatewayProcess } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { atDescriptorLimit, callersAtStore, childPids, eventually } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()
let upstream: RunningServer
const HEAD = 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n'
const DEGRADED = 'endpoint degraded: it refuses every call until its bundle is valid; the others serve'
const RECOVERED = 'endpoint no longer degraded: its bundles are valid, it serves again'
const HOUR_MS = 3_600_000

beforeAll(async () => {
  upstream = await startMtlsServer({ cert: use.pki.file('server-chain.crt'), key: use.pki.file('server.key'), ca: use.pki.file('root.crt') })
})
afterAll(async () => {
  await upstream?.close()
})

/** Client bundle files of a certificate valid from `from` until `until`. */
async function bundle(name: string, from: Date, until: Date): Promise<Record<string, string>> {
  const cert = await use.pki.issue({ subject: `CN=${name}`, issuer: use.pki.inter, usages: ['clientAuth'], notBefore: from, notAfter: until })
  return { ...use.pki.writePair(name, cert), intermediates: use.pki.file('inter.crt'), roots: use.pki.file('root.crt') }
}

const config = (file: string, endpoints: [string, Record<string, string>][], before = ''): string => {
  const path = join(use.pki.dir, file)
  writeFileSync(path, `${HEAD}${before}endpoints:\n${endpoints.map(([name, tls]) => endpointYaml(name, upstream.port, tls)).join('')}`)
  return path
}

/** Waits for the primary to accept a reload to `endpoints` endpoints and both workers to adopt it (each adopts before it logs `config reloaded`). */
async function reloaded(gp: GatewayProcess, from: number, endpoints: number): Promise<void> {
  const primary = gp.child.pid as number
  await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload accepted by every worker' && e.endpoints === endpoints), 60_000, 'the reload')
  await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded' && e.endpoints === endpoints).map((e) => e.pid)).size === 2 || undefined, 30_000, 'both workers to reload')
}

const linesOf = (gp: GatewayProcess, msg: string, endpoint: string, entries = gp.logEntries()): Record<string, unknown>[] => entries.filter((e) => e.msg === msg && e.endpoint === endpoint)

describe('serve: endpoint degraded lines, once per instance', () => {
  it('is said once by the primary, not again by a replacement or a reload that keeps it, and its end once', async () => {
    const expired = await bundle('old', new Date('2020-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'))
    const file = config('degraded.yaml', [['steady', clientTls(use.pki)], ['old', expired]])
    const gp = await use.spawn(file, ['--workers', '2'])
    const primary = gp.child.pid as number
    const [first] = childPids(primary) as [number, number]
    let from = gp.output.length
    sendSignal(first, 'SIGKILL', primary)
    await eventually(() => gp.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'the replacement to serve')
    // Still per worker: every worker refuses the degraded endpoint and serves the other.
    const old = await Promise.all([1, 2, 3, 4].map((i) => send(gp.url, `/proxy/old/o${i}`)))
    expect(old.map((r) => r.status)).toEqual([502, 502, 502, 502])
    expect((await send(gp.url, '/proxy/steady/s')).status).toBe(200)
    from = gp.output.length
    config('degraded.yaml', [['steady', clientTls(use.pki)], ['old', expired], ['third', clientTls(use.pki)]])
    sendSignal(primary, 'SIGHUP')
    await reloaded(gp, from, 3)
    from = gp.output.length
    config('degraded.yaml', [['steady', clientTls(use.pki)], ['old', clientTls(use.pki)]])
    sendSignal(primary, 'SIGHUP')
    await reloaded(gp, from, 2)
    // The primary logs what the workers report once the reload settled, after its verdict's line, in
    // a batch of its own; once (and no second line) is read once every line is out.
    await eventually(() => linesOf(gp, RECOVERED, 'old').length > 0 || undefined, 30_000, 'the end of the degradation to be logged')
    const entries = await finalEntries(gp)
    expect(linesOf(gp, DEGRADED, 'old', entries).map((e) => [e.pid, e.reason])).toEqual([[primary, 'client_cert_expired']])
    expect(linesOf(gp, RECOVERED, 'old', entries).map((e) => e.pid)).toEqual([primary])
    expect(entries.filter((e) => e.msg === DEGRADED || e.msg === RECOVERED).map((e) => e.endpoint)).toEqual(['old', 'old'])
  }, 240_000)

  it('says nothing of a reload the instance refused, though a worker built it before it was drained', async () => {
    const expired = await bundle('gone', new Date('2020-01-01T00:00:00Z'), new Date('2021-01-01T00:00:00Z'))
    const file = config('refused.yaml', [['partner', clientTls(use.pki)], ['gone', expired]])
    const gp = await use.spawn(file, ['--workers', '2'])
    const primary = gp.child.pid as number
    const [refuser, leaver] = childPids(primary) as [number, number]
    const from = gp.output.length
    // Caller apps need the store: the refuser, at its descriptor limit, cannot open it; the leaver opens it
    // (and builds `gone` valid again), cannot go back, and is drained and replaced from the last good config.
    await atDescriptorLimit(refuser, async () => {
      config('refused.yaml', [['partner', clientTls(use.pki)], ['gone', clientTls(use.pki)]], callersAtStore(join(use.pki.dir, 'refused.db')))
      const left = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'worker left on a config the instance did not accept: draining and replacing it'), 60_000, 'the leaver to be drained')
      expect(left.worker).toBe(leaver)
    })
    await eventually(() => gp.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening'), 60_000, 'the replacement to serve')
    // Once, and no end: read once every line is out (the primary writes its lines in batches).
    const entries = await finalEntries(gp)
    expect(linesOf(gp, DEGRADED, 'gone', entries).map((e) => e.pid)).toEqual([primary])
    expect(linesOf(gp, RECOVERED, 'gone', entries)).toEqual([])
  }, 240_000)

  for (const workers of ['2', '1']) {
    it(`is said once when a certificate expires while the instance runs, and its end once when one becomes valid (--workers ${workers})`, async () => {
      // The dates are an hour away; the instance's clock jumps past them while it runs (clock-jump.ts).
      const at = new Date(Date.now() + HOUR_MS)
      const file = config(`dated-${workers}.yaml`, [['short', await bundle(`short-${workers}`, new Date(Date.now() - 60_000), at)], ['early', await bundle(`early-${workers}`, at, new Date(at.getTime() + 24 * HOUR_MS))]])
      const jump = join(use.pki.dir, `jump-${workers}`)
      const preload = use.pki.write('clock-jump.cjs', CLOCK_JUMP)
      const gp = await use.spawn(file, ['--workers', workers], { NODE_OPTIONS: `--require ${preload}`, CLOCK_JUMP_FILE: jump, CLOCK_JUMP_MS: String(2 * HOUR_MS), CLOCK_JUMP_INTERVAL_MS: String(CHECK_MS) })
      const primary = gp.child.pid as number
      // Log lines are written a little after the ready line.
      await eventually(() => linesOf(gp, DEGRADED, 'early').length > 0 || undefined, 30_000, 'the start\'s line')
      expect(linesOf(gp, DEGRADED, 'early').map((e) => [e.pid, e.reason])).toEqual([[primary, 'client_cert_not_yet_valid']])
      expect(linesOf(gp, DEGRADED, 'short')).toEqual([])
      const processes = workers === '1' ? [primary] : [primary, ...childPids(primary)]
      writeFileSync(jump, '')
      await eventually(() => linesOf(gp, DEGRADED, 'short').length > 0 || undefined, 30_000, 'the expiry to be logged')
      await eventually(() => linesOf(gp, RECOVERED, 'early').length > 0 || undefined, 30_000, 'the start of validity to be logged')
      await eventually(() => processes.every((pid) => existsSync(`${jump}.seen-${pid}`)) || undefined, 30_000, 'every process to look at the later clock')
      // Once each: read once every line is out (a pause can end before a loaded machine's last batch).
      const entries = await finalEntries(gp)
      expect(linesOf(gp, DEGRADED, 'short', entries).map((e) => [e.pid, e.reason])).toEqual([[primary, 'client_cert_expired']])
      expect(linesOf(gp, RECOVERED, 'early', entries).map((e) => e.pid)).toEqual([primary])
      expect(linesOf(gp, DEGRADED, 'early', entries)).toHaveLength(1)
    }, 240_000)
  }
})
