/**
 * A `store.file` whose folder cannot be made though its parent exists and access() allows it:
 * under /proc, mkdir says ENOENT. Node's recursive mkdir retried that for ever (serve hung at
 * start, deaf to SIGTERM, while `check` passed the config); now `check` and `serve` refuse it
 * alike, at once, and a reload that moves the store there is refused. Each command is cut (SIGKILL: the hung one ignored SIGTERM) after 60 s.
 * Judging a folder makes nothing: `check` leaves a missing folder missing (it used to make and
 * remove it, racing a start on the same path), and `pki --dir` under /proc fails as promptly.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeFolders } from '../../src/process/index.js'
import { sqliteFileProblem } from '../../src/store/index.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { MAIN, spawnGateway } from '../support/process.js'
import { callersAtStore, get, refusedReloadProblems, replaceFile } from '../ops/helpers.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

interface Run { code: number | null; signal: string | null; output: string }

/** Runs the gateway's CLI with `args`, killed if still running after 60 s. */
function runGateway(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      const failed = error as (Error & { code?: number | string; signal?: string }) | null
      resolve({ code: failed === null ? 0 : typeof failed.code === 'number' ? failed.code : null, signal: failed?.signal ?? null, output: stdout + stderr })
    })
  })
}

describe('a store.file folder that cannot be made (under /proc)', () => {
  const folder = `/proc/nope-${randomBytes(6).toString('hex')}`
  const file = `${folder}/x.db`
  const refusal = `sqlite store "${file}": cannot open: folder ${folder} cannot be created: /proc is on the kernel's proc file system, which holds no files`

  it('makeFolders tries each missing level once and says why; sqliteFileProblem knows without a mkdir', () => {
    expect(makeFolders(`${folder}/a/b`)).toEqual({ problem: `folder ${folder}/a/b cannot be created: mkdir ${folder} failed (ENOENT)` })
    expect(sqliteFileProblem(file)).toBe(refusal)
  })

  it('check and serve both refuse it promptly, naming store.file and the folder', async () => {
    assertDistFresh()
    const app = '    - { clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: https://gw.example, endpoints: [partner] }\n'
    const config = pki.write('proc-store.yaml', `admin: { enabled: false }\nlisten: { host: 127.0.0.1, port: 0 }\nstore: { file: ${file} }\ncallers:\n  apps:\n${app}endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`)
    const [check, serve, workers] = await Promise.all([
      runGateway(['check', '--config', config]),
      runGateway(['serve', '--config', config]),
      runGateway(['serve', '--config', config, '--workers', '2']),
    ])
    expect(check.output).toContain(`proc-store.yaml:3:16: store.file: ${refusal}\n`)
    expect(check.code).toBe(1)
    for (const start of [serve, workers]) {
      expect(start.signal, start.output).toBeNull()
      expect(start.code, start.output).toBe(1)
      expect(start.output).toContain(refusal)
    }
    expect(existsSync(folder)).toBe(false)
  }, 120_000)

  it('a reload that first opens the store there is refused, and the gateway goes on', async () => {
    const partner = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
    const config = pki.write('proc-reload.yaml', `admin: { enabled: false }\nlisten: { host: 127.0.0.1, port: 0 }\n${partner}`)
    const gp = await spawnGateway(config)
    try {
      const from = gp.output.length
      replaceFile(config, `admin: { enabled: false }\nlisten: { host: 127.0.0.1, port: 0 }\n${callersAtStore(file)}${partner}`)
      gp.child.kill('SIGHUP')
      expect(JSON.stringify(await refusedReloadProblems(gp, from))).toContain(refusal.replace(/"/g, '\\"'))
      // Still answering: a route to no endpoint gets the gateway's own refusal.
      expect((await get(`${gp.url}/proxy/nope/`)).status).toBeGreaterThanOrEqual(400)
    } finally {
      // SIGKILL: the old code hung here deaf to SIGTERM.
      await gp.stop('SIGKILL')
    }
  }, 120_000)

  it('pki --dir there fails at once, naming the folder', async () => {
    const run = await runGateway(['pki', '--dir', `${folder}/certs`])
    expect(run.signal, run.output).toBeNull()
    expect(run.code, run.output).toBe(1)
    expect(run.output).toContain(`folder ${folder}/certs cannot be created: mkdir ${folder} failed (ENOENT)`)
  }, 120_000)
})

describe('a store.file folder that is missing but can be made', () => {
  it('check passes it and makes nothing; serve then makes it', async () => {
    assertDistFresh()
    const base = mkdtempSync(join(tmpdir(), 'folder-judged-'))
    try {
      const file = join(base, 'a', 'b', 'x.db')
      expect(sqliteFileProblem(file)).toBeUndefined()
      const config = join(base, 'gateway.yaml')
      const partner = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`
      const yaml = `admin: { enabled: false }\nlisten: { host: 127.0.0.1, port: 0 }\n${callersAtStore(file)}${partner}`
      writeFileSync(config, yaml)
      // A folder made and removed again leaves base's modification time changed.
      const before = statSync(base, { bigint: true }).mtimeNs
      const check = await runGateway(['check', '--config', config])
      expect(check.code, check.output).toBe(0)
      expect(existsSync(join(base, 'a'))).toBe(false)
      expect(statSync(base, { bigint: true }).mtimeNs).toBe(before)
      const gp = await spawnGateway(config)
      try {
        expect(existsSync(file)).toBe(true)
      } finally {
        await gp.stop()
      }
    } finally {
      rmSync(base, { recursive: true, force: true })
    }
  }, 120_000)
})
