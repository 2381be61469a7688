/**
 * A watched file (the config, a certificate it references) that changes while the process or
 * instance drains reloads nothing, as a SIGHUP then does: one `draining: no reload` line with
 * the trigger, the held request finishes, exit 0. Before, the watcher stayed live until the
 * listener had closed and the change reloaded the draining process; a `--workers` primary
 * relayed it to its draining workers. /readyz says `draining` (503) from the drain's start, while
 * the request is still in flight.
 */
import { appendFileSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { useHoldingUpstream } from '../support/holding-upstream.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, exitedOf, spawnGateway } from '../support/process.js'
import { eventually, get } from './helpers.js'

const use = useHoldingUpstream()

/** A config of its own in `dir`, with a copy of the client certificate it references: what the case changes. */
function ownConfig(dir: string): { config: string; cert: string } {
  mkdirSync(dir, { recursive: true })
  const cert = join(dir, 'client.crt')
  copyFileSync(use.pki.file('client.crt'), cert)
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 60s }\nendpoints:\n${endpointYaml('partner', use.upstream.server.port, { ...clientTls(use.pki), cert })}`)
  return { config, cert }
}

const modes = [
  // --workers defaults to the CPUs (2 on CI): one process is asked for.
  { name: 'one process', args: ['--workers', '1'], workers: 1 },
  { name: '--workers 2', args: ['--workers', '2'], workers: 2 },
]
const changes = [
  { name: 'the config', change: (f: { config: string }) => appendFileSync(f.config, '# changed while draining\n') },
  // A PEM with one more line after its end is the same certificate: a change by its bytes all the same.
  { name: 'a certificate', change: (f: { cert: string }) => appendFileSync(f.cert, '\n') },
]

describe('a watched file that changes while the gateway drains', () => {
  for (const mode of modes) {
    for (const what of changes) {
      it(`reloads nothing when ${what.name} changes (${mode.name}): one "draining: no reload" line, the held request finishes, exit 0`, async () => {
        const files = ownConfig(join(use.pki.dir, `${mode.workers}-${what.name.replace(/\W/g, '')}`))
        const gp = await spawnGateway(files.config, mode.args)
        try {
          const admin = await adminUrlOf(gp)
          const reply = send(gp.url, '/proxy/partner/held')
          await eventually(() => use.upstream.waiting.length === 1, 20_000, 'the upstream to hold the request')
          const exit = exitedOf(gp.child)
          gp.child.kill('SIGTERM')
          await eventually(() => gp.logEntries().filter((e) => e.msg === 'draining: no new connections, waiting for in-flight requests').length === mode.workers, 20_000, 'every process draining')
          // Not ready from the drain's start, while a request is still in flight (the listener is closing, not closed).
          const ready = await get(`${admin}/readyz`)
          expect(ready.status).toBe(503)
          // (A --workers primary lists each draining worker's own reason after its own.)
          expect(JSON.parse(ready.text)).toMatchObject({ status: 'not_ready', reasons: expect.arrayContaining(['draining']) as unknown })
          what.change(files)
          await eventually(() => gp.logEntries().some((e) => e.msg === 'draining: no reload'), 20_000, 'the change said ignored')
          use.upstream.release()
          expect((await reply).status).toBe(200)
          expect(await exit).toBe(0)
          await gp.ended
          expect(gp.logEntries().filter((e) => e.msg === 'draining: no reload')).toMatchObject([{ level: 'info', trigger: 'file change' }])
          expect(gp.output.filter((l) => /reload: relaying|config reloaded|reload accepted|config reload failed/.test(l))).toEqual([])
        } finally {
          for (const w of use.upstream.waiting.splice(0)) w.res.destroy()
          await gp.stop('SIGKILL')
        }
      })
    }
  }
})
