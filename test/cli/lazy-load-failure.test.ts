/**
 * The console's modules load when a config turns it on (cli/console-loader.ts). An import that
 * fails must be reported, not swallowed: at start it fails the start with a line naming it; when
 * a reload turns the console on, the process logs it at error right away (the reload itself is
 * good: nothing else changed), and /console/ answers the JSON 500 naming it.
 *
 * Fault injection: a module hook (NODE_OPTIONS --import) makes cli/console-host.js (in the bundle,
 * its chunk `console-host-<hash>.js`) fail to resolve, in every process of the instance, as a
 * broken install would, until the file
 * CONSOLE_FIXED_FILE exists (the install is fixed): the next reload imports it again.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { adminUrlOf, exitedOf, MAIN } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { eventually, get } from '../ops/helpers.js'
import { spawn } from 'node:child_process'
import { sendSignal, signalGroup } from '../support/signals.js'

const BROKEN_CONSOLE = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module'
import { existsSync } from 'node:fs'
registerHooks({ resolve(specifier, context, next) {
  const fixed = process.env.CONSOLE_FIXED_FILE
  if (specifier.split('/').pop().startsWith('console-host') && !(fixed && existsSync(fixed))) throw new Error('injected: cannot load the console host')
  return next(specifier, context)
} })
`)}`

const TOKEN = 'console-token-0123456789'
const LOAD_FAILED = 'console: its modules could not be loaded; /console/ answers 500 until a reload with the console on loads them'
const LOADED_AT_LAST = 'console: its modules loaded at last (a reload tried the failed import again)'
const use = useSpawnedGateways()

const yaml = (admin: string): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0${admin} }\nendpoints: []\n`

describe('a console that cannot load', () => {
  for (const workers of [1, 2]) {
    it(`turned on by a reload (--workers ${workers}): logged at error at once, /console/ answers 500 naming it, and the next reload imports it again`, async () => {
      const config = join(use.pki.dir, `reload-${workers}.yaml`)
      const fixed = join(use.pki.dir, `fixed-${workers}`)
      writeFileSync(config, yaml(''))
      const gp = await use.spawn(config, ['--workers', String(workers)], { NODE_OPTIONS: `--import=${BROKEN_CONSOLE}`, CONSOLE_FIXED_FILE: fixed })
      const admin = await adminUrlOf(gp)
      const from = gp.output.length
      writeFileSync(config, yaml(`, token: ${TOKEN}`))
      const failed = await eventually(() => gp.logEntries(from).find((e) => e.msg === LOAD_FAILED), 60_000, 'the failure to be logged')
      expect(failed).toMatchObject({ level: 'error', pid: gp.child.pid, err: expect.objectContaining({ message: expect.stringContaining('injected: cannot load the console host') }) })
      const page = await get(`${admin}/console/`)
      expect(page.status).toBe(500)
      expect(JSON.parse(page.text)).toEqual({ errors: [{ msg: 'admin: injected: cannot load the console host', code: 500 }] })
      // Logged once: requests do not retry the import (counted below, once a later line of the primary is out).
      expect((await get(`${admin}/console/`)).status).toBe(500)
      // The install is fixed, and the operator reloads: the console serves, no restart.
      writeFileSync(fixed, '')
      const again = gp.output.length
      sendSignal(gp.child, 'SIGHUP')
      await eventually(() => gp.logEntries(again).find((e) => e.msg === LOADED_AT_LAST || e.msg === LOAD_FAILED), 60_000, 'the import to be tried again')
      expect(gp.logEntries(again).filter((e) => e.msg === LOAD_FAILED)).toEqual([])
      expect(gp.logEntries(again).find((e) => e.msg === LOADED_AT_LAST)).toMatchObject({ level: 'info', pid: gp.child.pid })
      // The primary writes its lines in batches: a failure line a request's retry wrote precedes its reload line, so it is out now.
      expect(gp.logEntries(from).filter((e) => e.msg === LOAD_FAILED)).toHaveLength(1)
      expect((await get(`${admin}/console/`)).status).toBe(200)
    }, 120_000)
  }

  it('on at start (--workers 2): the start fails with one line naming it', async () => {
    const config = join(use.pki.dir, 'start.yaml')
    writeFileSync(config, yaml(`, token: ${TOKEN}`))
    // Its own process group: a start that wrongly succeeds is killed with its workers, not left running.
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', config, '--workers', '2'], { env: { ...process.env, NODE_OPTIONS: `--import=${BROKEN_CONSOLE}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const exited = exitedOf(child)
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    try {
      expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 60 s'), 60_000))])).toBe(1)
      expect(stderr).toContain('mtls-gateway: injected: cannot load the console host')
    } finally {
      if (child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL')
    }
  }, 120_000)
})
