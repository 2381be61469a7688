/**
 * A reload already under way when a drain begins is abandoned: once draining, the process (or
 * the `--workers` instance) adopts no new config. It says so in one line, `draining: reload
 * abandoned` with the reload's trigger, counts nothing in `config_reloads_total`, accepts and rolls
 * back nothing; the request in flight finishes and the process exits 0. Before, the reload ran on:
 * one process put the new config in force after draining began (`config reloaded`), and a primary
 * accepted it from its draining workers (`reload accepted by every worker`).
 *
 * Real processes. The reload and the drain are made to meet: the process (the primary) is stopped
 * (SIGSTOP), sent SIGHUP then SIGTERM, and continued. Usually SIGHUP's handler runs first and the
 * drain begins before the reload could be put in force, but after SIGCONT the process may also take
 * SIGTERM first (the reload is then one asked while draining: `draining: no reload`) or finish the
 * reload before the drain (adopted, then drained). An attempt that met either other order is
 * checked for what that order must do, and the case runs again until the overtaken order came
 * (test/support/until-order.ts); it fails if it never does.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { useHoldingUpstream } from '../support/holding-upstream.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, exitedOf, spawnGateway } from '../support/process.js'
import { whileStopped } from '../support/stopped-process.js'
import { untilOrder } from '../support/until-order.js'
import { eventually, scrape, valueOf } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const held = useHoldingUpstream()

const DRAINING = 'draining: no new connections, waiting for in-flight requests'
const ADOPTED = /^(config reloaded|reload accepted by every worker|config reload failed; keeping the last good config)$/

/** SIGHUP then SIGTERM, handled in one turn of `pid`: sent while it is stopped, then SIGCONT. */
const reloadThenDrain = (pid: number): Promise<void> => whileStopped(pid, () => void (sendSignal(pid, 'SIGHUP'), sendSignal(pid, 'SIGTERM')))

type Order = 'overtaken' | 'drain-first' | 'reload-first'

/** Which order the attempt's log shows, once it shows one. */
function orderOf(entries: Record<string, unknown>[], primary: number): Order | undefined {
  if (entries.some((e) => e.msg === 'draining: reload abandoned')) return 'overtaken'
  if (entries.some((e) => e.msg === 'draining: no reload')) return 'drain-first'
  if (entries.some((e) => e.pid === primary && ADOPTED.test(String(e.msg)))) return 'reload-first'
  return undefined
}

describe('a drain that begins while a reload is under way', () => {
  for (const workers of [1, 2]) {
    it(`abandons the reload, says so once, adopts nothing (--workers ${workers}); the held request finishes, exit 0`, async () => {
      const { pki, upstream } = held
      await untilOrder<Order>('overtaken', 6, async (attempt) => {
        const config = join(pki.dir, `overtaken-${workers}-${attempt}.yaml`)
        writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\ndrain: { grace: 60s }\nendpoints:\n${endpointYaml('partner', upstream.server.port, clientTls(pki))}`)
        const gp = await spawnGateway(config, ['--workers', String(workers)])
        try {
          const admin = await adminUrlOf(gp)
          const reply = send(gp.url, '/proxy/partner/held')
          await eventually(() => upstream.waiting.length === 1, 30_000, 'the upstream to hold the request')
          // The same config: a reload of it is put in force all the same (and a change would reach the file watcher too).
          const from = gp.output.length
          const primary = gp.child.pid as number
          const exit = exitedOf(gp.child)
          await reloadThenDrain(primary)
          const order = await eventually(() => orderOf(gp.logEntries(from), primary) ?? false, 30_000, 'the reload to be abandoned, refused or adopted')
          const metrics = await scrape(admin)
          const reloads = [valueOf(metrics, 'mtls_gateway_config_reloads_total', { result: 'success' }), valueOf(metrics, 'mtls_gateway_config_reloads_total', { result: 'failure' })]
          upstream.release()
          expect((await reply).status).toBe(200)
          expect(await exit).toBe(0)
          await gp.ended
          const after = gp.logEntries(from)
          expect(after.filter((e) => e.msg === DRAINING)).toHaveLength(workers)
          if (order === 'reload-first') {
            // Judged before the drain began: counted once, and nothing abandoned or refused.
            expect(reloads[0]! + reloads[1]!).toBe(1)
            expect(after.filter((e) => e.msg === 'draining: reload abandoned' || e.msg === 'draining: no reload')).toEqual([])
            return order
          }
          // Counted neither way: the config in force did not change and was not judged.
          expect(reloads).toEqual([0, 0])
          expect(after.filter((e) => e.pid === primary && ADOPTED.test(String(e.msg)))).toEqual([])
          expect(after.filter((e) => String(e.trigger).startsWith('rollback of'))).toEqual([])
          // A worker may have built it before its own drain began (the primary relayed it first), never after.
          for (const pid of new Set(after.map((e) => e.pid))) {
            const own = after.filter((e) => e.pid === pid)
            const drainedAt = own.findIndex((e) => e.msg === DRAINING)
            expect(own.slice(Math.max(0, drainedAt)).filter((e) => e.msg === 'config reloaded')).toEqual([])
          }
          if (order === 'drain-first') {
            expect(after.filter((e) => e.msg === 'draining: no reload')).toMatchObject([{ pid: primary, trigger: 'SIGHUP' }])
            expect(after.filter((e) => e.msg === 'draining: reload abandoned')).toEqual([])
            return order
          }
          expect(after.filter((e) => e.msg === 'draining: reload abandoned')).toMatchObject([{ level: 'info', pid: primary, trigger: 'SIGHUP' }])
          expect(after.filter((e) => e.msg === 'draining: no reload')).toEqual([])
          return order
        } finally {
          for (const w of upstream.waiting.splice(0)) w.res.destroy()
          await gp.stop('SIGKILL')
        }
      })
    }, 600_000)
  }
})
