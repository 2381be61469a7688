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
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
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
      expect(r.output).toContain(`refused.yaml:3:16: store.file: ${problem as string}\n`)
    }
  })

  it('refuses a database that is not the store (another program\'s tables, its application_id, a newer store schema, a store table of other columns) and leaves it untouched', async () => {
    const made = (name: string, sql: string): string => {
      const file = pki.file(name)
      const db = new Database(file)
      db.exec(sql)
      db.close()
      return file
    }
    const ours = pki.file('ours/gateway.db')
    await openSqliteStore({ file: ours, purgeIntervalMs: 0 }).close()
    const newer = new Database(ours)
    newer.pragma('user_version = 2')
    newer.close()
    const cases: [string, string][] = [
      [made('app.db', 'CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, \'ada\')'), "it holds tables that are not the gateway's (users): it is another program's database; give store.file a file of its own"],
      [made('shared.db', 'CREATE TABLE store_entries (key TEXT PRIMARY KEY, value TEXT, expires_at INTEGER); CREATE TABLE audit (at INTEGER)'), "it holds tables that are not the gateway's (audit): it is another program's database; give store.file a file of its own"],
      [made('other-id.db', 'PRAGMA application_id = 1234'), 'it belongs to another program (application_id 0x4d2), not to the gateway; give store.file a file of its own'],
      [made('versioned.db', 'PRAGMA user_version = 7'), "its user_version is 7, which no gateway writes: it is another program's database; give store.file a file of its own"],
      [made('columns.db', 'CREATE TABLE store_entries (k TEXT, v BLOB)'), "its store_entries table has columns (k, v), not the gateway's (key, value, expires_at)"],
      [ours, 'a newer gateway wrote it (store schema version 2; this gateway reads version 1 and older): start that version, or give store.file another file'],
    ]
    for (const [file, why] of cases) {
      const before = readFileSync(file)
      const problem = `sqlite store "${file}": cannot open: ${why}`
      expect(sqliteFileProblem(file)).toBe(problem)
      expect(() => openSqliteStore({ file, purgeIntervalMs: 0 })).toThrow(problem)
      const r = runCheck(configWith('foreign.yaml', file))
      expect(r.ok).toBe(false)
      expect(r.output).toContain(`foreign.yaml:3:16: store.file: ${problem}\n`)
      expect(readFileSync(file).equals(before)).toBe(true)
    }
  })

  it('passes a store a gateway made before the file was marked (application_id and user_version 0), and marks it', async () => {
    const file = pki.file('unmarked/gateway.db')
    mkdirSync(pki.file('unmarked'))
    const db = new Database(file)
    db.exec("CREATE TABLE store_entries (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID, STRICT; INSERT INTO store_entries VALUES ('k', 'v', NULL)")
    db.close()
    expect(sqliteFileProblem(file)).toBeUndefined()
    const store = openSqliteStore({ file, purgeIntervalMs: 0 })
    expect(await store.get('k')).toBe('v')
    await store.close()
    const marked = new Database(file, { readonly: true })
    expect([marked.pragma('application_id', { simple: true }), marked.pragma('user_version', { simple: true })]).toEqual([0x6d746c73, 1])
    marked.close()
    expect(sqliteFileProblem(file)).toBeUndefined()
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
      expect(outputs[2 * i]).toContain(`ro-${i}.yaml:3:16: store.file: ${refusal}\n`)
      expect(outputs[2 * i + 1]).toContain(refusal)
    })
  }, 300_000)
})
