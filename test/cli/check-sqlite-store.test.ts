/**
 * `check` refuses a SQLite `store.file` that `serve` could not open (README, `check`): a folder
 * that does not exist and cannot be created, a folder that is not writable, a path that is a
 * folder, a file that is not a database. The store's open refuses with sqliteFileProblem's words
 * before it creates anything, so check and serve name the same fact. `check` once passed all of
 * these and `serve` then exited 1 at start. The tests run as root (permission bits do not stop
 * root): not writable is a read-only mount, made in a private mount namespace (`unshare
 * --mount`) that ends with the command, so no mount outlives the test.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { openSqliteStore, sqliteFileProblem } from '../../src/store/index.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { MAIN } from '../support/process.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

/** A config that keeps caller apps (so a start opens the store) at `file`. */
function configWith(name: string, file: string): string {
  const app = '    - { clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: https://gw.example, endpoints: [partner] }\n'
  return pki.write(name, `admin: { enabled: false }\nlisten: { host: 127.0.0.1, port: 0 }\nstore: { file: ${file} }\ncallers:\n  apps:\n${app}endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`)
}

describe('sqliteFileProblem: what the store refuses, and check with it', () => {
  it('refuses a folder, a path under a regular file, a file that is not a database; the open refuses in the same words', () => {
    const plain = pki.write('plain', 'x')
    mkdirSync(pki.file('a-folder.db'))
    const cases: [string, RegExp][] = [
      [pki.file('a-folder.db'), /cannot open: it is a folder, not a file$/],
      [join(plain, 'gateway.db'), /cannot open: \S+plain is not a folder$/],
      [join(plain, 'state', 'gateway.db'), /cannot open: folder \S+plain\/state cannot be created: \S+plain is not a folder$/],
      [pki.write('text.db', 'not a database\n'), /cannot open: it is not a SQLite database$/],
    ]
    for (const [file, reason] of cases) {
      const problem = sqliteFileProblem(file)
      expect(problem).toMatch(reason)
      expect(() => openSqliteStore({ file, purgeIntervalMs: 0 })).toThrow(problem as string)
      const r = runCheck(configWith('refused.yaml', file))
      expect(r.ok).toBe(false)
      expect(r.output).toContain(`refused.yaml: store.file: ${problem as string}\n`)
    }
  })

  it('passes a folder still to be made, an empty file, and a database the store made; so does check', async () => {
    const made = pki.file('made/gateway.db')
    await openSqliteStore({ file: made, purgeIntervalMs: 0 }).close()
    for (const file of [pki.file('new/sub/gateway.db'), pki.write('empty.db', ''), made]) {
      expect(sqliteFileProblem(file)).toBeUndefined()
      expect(runCheck(configWith('ok.yaml', file)).ok).toBe(true)
    }
  })

  it('is not asked when the start opens no store (no caller apps, no per_user profile)', () => {
    const file = pki.write('no-store.yaml', `store: { file: ${pki.file('a-folder.db')} }\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`)
    expect(runCheck(file).ok).toBe(true)
  })
})

describe('a read-only folder (a private mount namespace): check and serve refuse it alike', () => {
  it('a store in the read-only folder, in a folder to be made under it, and a read-only database file', async () => {
    assertDistFresh()
    const ro = pki.file('read-only')
    mkdirSync(ro)
    const existing = pki.file('writable/existing.db')
    await openSqliteStore({ file: existing, purgeIntervalMs: 0 }).close()
    const cases: [string, string][] = [
      [join(ro, 'gateway.db'), `folder ${ro} is not writable (EROFS)`],
      [join(ro, 'state', 'gateway.db'), `folder ${ro}/state cannot be created: ${ro} is not writable (EROFS)`],
      [existing, 'it is not readable and writable (EROFS)'],
    ]
    const configs = cases.map(([file], i) => configWith(`ro-${i}.yaml`, file))
    // Each command prints its exit code after its output; serve is expected to exit at once (a hang is cut at 60 s).
    const run = (args: string): string => `${process.execPath} ${MAIN} ${args} 2>&1; echo "exit=$?"`
    const script = ['set -e', ...[ro, existing].flatMap((p) => [`mount --bind '${p}' '${p}'`, `mount -o remount,bind,ro '${p}'`]), 'set +e', ...configs.flatMap((c) => [run(`check --config '${c}'`), `timeout 60 ${run(`serve --config '${c}'`)}`])].join('\n')
    const { stdout } = await promisify(execFile)('unshare', ['--mount', '--propagation', 'private', '--fork', 'sh', '-c', script], { timeout: 240_000 })
    const outputs = stdout.split(/exit=\d+\n/)
    const exits = [...stdout.matchAll(/exit=(\d+)/g)].map((m) => m[1])
    expect(exits).toEqual(cases.flatMap(() => ['1', '1']))
    cases.forEach(([file, why], i) => {
      const refusal = `sqlite store "${file}": cannot open: ${why}`
      expect(outputs[2 * i]).toContain(`ro-${i}.yaml: store.file: ${refusal}\n`)
      expect(outputs[2 * i + 1]).toContain(refusal)
    })
  }, 300_000)
})
