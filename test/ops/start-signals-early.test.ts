/**
 * A SIGTERM in `serve`'s first moments, while its command's modules still load (a second or more
 * on a loaded node), is held and drains the process once it serves, exit 0. It was held only
 * once those modules had loaded: before that the signal took its default action (the process
 * ended at once; as PID 1 of a container it was dropped and the gateway then served until
 * SIGKILL). The moment is made long and certain by a module hook that delays the `serve`
 * command's chunk until the test has sent its signal.
 */
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { eventually } from './helpers.js'

let pki: TestPki
let upstream: RunningServer
let config: string

const HOOKS = `
import { existsSync, writeFileSync } from 'node:fs'
export async function load(url, context, next) {
  if (/\\/serve-command-[^/]*\\.js$/.test(url) && !existsSync(process.env.SIGNALLED_MARKER)) {
    writeFileSync(process.env.LOADING_MARKER, url)
    // Held until the test has signalled (bounded: a test that never signals does not hang the process).
    for (let i = 0; i < 600 && !existsSync(process.env.SIGNALLED_MARKER); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return next(url, context)
}
`

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  config = join(pki.dir, 'gateway.yaml')
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 20s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`)
  writeFileSync(join(pki.dir, 'delay-hooks.mjs'), HOOKS)
  writeFileSync(join(pki.dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(new URL(`file://${join(pki.dir, 'delay-hooks.mjs')}`).href)})\n`)
})
afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

describe.each([1, 2])('serve --workers %i signalled while its command loads', (workers) => {
  it('holds the SIGTERM, serves, then drains: exit 0', async () => {
    assertDistFresh()
    const loading = join(pki.dir, `loading-${workers}`)
    const signalled = join(pki.dir, `signalled-${workers}`)
    const child = spawn(process.execPath, ['--import', join(pki.dir, 'register.mjs'), MAIN, 'serve', '--config', config, '--workers', String(workers)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOADING_MARKER: loading, SIGNALLED_MARKER: signalled },
    })
    const output: string[] = []
    for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => void output.push(line))
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    try {
      await eventually(() => existsSync(loading), 30_000, 'serve to load its command')
      child.kill('SIGTERM')
      writeFileSync(signalled, '')
      expect(await exit, output.join('\n')).toEqual({ code: 0, signal: null })
      expect(output.some((l) => l.includes('"msg":"listening"')), output.join('\n')).toBe(true)
      expect(output.some((l) => l.includes('"draining')), output.join('\n')).toBe(true)
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})
