/**
 * Every problem found after the load names `file:line:column: key:` like the loader's own, in
 * the same words in `check`, the console's draft validator, a start (one process and
 * `--workers 2`) and a refused reload (SIGHUP): one broken config per kind of problem. Before,
 * these named the file and key only (`g.yaml: store.sealKeys: …`), or the PEM file instead of
 * the config (`client.crt: endpoints[0].tls.cert: …`), so the draft validator could not place them;
 * and an OAuth URL whose query no verifier reads as written (`%E9`) passed check, to fail at the provider.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { runCheck } from '../../src/cli/check.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'
import { exitedOf, MAIN, spawnGateway, type GatewayProcess } from '../support/process.js'
import { eventually, instanceReloads, RELOAD_REFUSED, replaceFile } from '../ops/helpers.js'

const HEAD = 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\n'
const APPS = `callers:\n  required: false\n  apps: [{ clientId: bot, hs256Secret: "${'s'.repeat(32)}", audience: "https://gw.test", endpoints: ["*"] }]\n`
const GOOD = `${HEAD}endpoints: []\n`
const ENDPOINT = 'endpoints:\n  - name: partner\n    url: https://api.partner.test\n    profile: p\n    tls: { cert: gone.crt, key: gone.key, roots: gone-roots.crt }\n'

/** One kind of problem: a config, the key it names, the value to point at, its message; `paths` leaves out those that never see it. */
interface Row {
  kind: string
  yaml: string
  key: string
  at: string
  msg: (dir: string) => string
  paths?: readonly Path[]
}
type Path = 'check' | 'draft' | 'start' | 'reload'

const ROWS: Row[] = [
  { kind: 'endpoint bundle file', yaml: `${HEAD}${ENDPOINT.replace('    profile: p\n', '')}`, key: 'endpoints[0].tls.cert', at: 'gone.crt', msg: (d) => `${d}/gone.crt: endpoint "partner": cannot read file: ENOENT` },
  {
    kind: 'OAuth profile RSA key',
    yaml: `${HEAD}profiles:\n  - { name: p, consumerKey: ck, signatureMethod: RSA-SHA1, privateKey: gone-rsa.pem, token: { mode: static, token: t, tokenSecret: s } }\n${ENDPOINT}`,
    key: 'profiles[0].privateKey',
    at: 'gone-rsa.pem',
    msg: (d) => `${d}/gone-rsa.pem: profile "p": cannot load the RSA private key: ENOENT`,
  },
  {
    kind: 'OAuth URL escape',
    yaml: `${HEAD}profiles:\n  - { name: p, consumerKey: ck, consumerSecret: cs, requestTokenUrl: "https://api.partner.test/rt?scope=caf%E9", token: { mode: static, token: t, tokenSecret: s } }\n${ENDPOINT}`,
    key: 'profiles[0].requestTokenUrl',
    at: '"https://api.partner.test/rt',
    msg: () => 'profile "p": the query has a percent-escape whose octets are not UTF-8 (python-oauthlib reads U+FFFD, PHP the octet), so no OAuth 1.0a verifier reads it as written: percent-encode text as UTF-8 (é is %C3%A9)',
  },
  {
    // A key the config lacks: where it would be added (inside store, as the loader places `is required`), not at the store key.
    kind: 'seal keys missing (per-user tokens)',
    yaml: `${HEAD}profiles:\n  - { name: p, consumerKey: ck, consumerSecret: cs, requestTokenUrl: https://api.partner.test/rt, accessTokenUrl: https://api.partner.test/at, authorizeUrl: https://api.partner.test/au, token: { mode: per_user } }\nstore:\n  kind: sqlite\n  file: s.db\n${ENDPOINT}`,
    key: 'store.sealKeys',
    at: 'kind: sqlite',
    msg: () => 'is required when per-user OAuth tokens are stored (token secrets are encrypted at rest)',
    paths: ['check', 'draft'],
  },
  { kind: 'seal key', yaml: `${HEAD}store: { sealKeys: [{ id: k1, key: tooshort }] }\nendpoints: []\n`, key: 'store.sealKeys', at: '[{ id', msg: () => 'seal key must be 32 bytes (64 hex digits or 44 base64 characters); the base64 text decodes to 6 bytes' },
  { kind: 'SQLite store file', yaml: `${HEAD}${APPS}store: { file: not-a-dir.txt/s.db }\nendpoints: []\n`, key: 'store.file', at: 'not-a-dir.txt/s.db', msg: () => '' },
  {
    kind: 'Redis TLS file',
    yaml: `${HEAD}${APPS}store:\n  kind: redis\n  url: rediss://127.0.0.1:1\n  redis: { tls: { ca: gone-redis-ca.pem } }\nendpoints: []\n`,
    key: 'store.redis.tls.ca',
    at: 'gone-redis-ca.pem',
    msg: (d) => `cannot read ${d}/gone-redis-ca.pem: ENOENT`,
  },
  { kind: 'OTLP TLS file', yaml: `${HEAD}tracing:\n  enabled: true\n  otlp: { endpoint: "https://127.0.0.1:1/v1/traces", tls: { ca: gone-otlp.pem } }\nendpoints: []\n`, key: 'tracing.otlp.tls.ca', at: 'gone-otlp.pem', msg: (d) => `cannot read ${d}/gone-otlp.pem: ENOENT`, paths: ['check', 'draft', 'start'] },
  { kind: 'listener TLS file', yaml: `listen: { host: 127.0.0.1, port: 0, tls: { cert: gone-listen.crt, key: gone-listen.key } }\nadmin: { enabled: false }\nendpoints: []\n`, key: 'listen.tls.cert', at: 'gone-listen.crt', msg: (d) => `${d}/gone-listen.crt: cannot read file: ENOENT`, paths: ['check', 'draft', 'start'] },
  { kind: 'interception CA', yaml: `${HEAD}interception:\n  caCert: gone-ica.crt\n  caKey: gone-ica.key\nendpoints: []\n`, key: 'interception.caCert', at: 'gone-ica.crt', msg: (d) => `${d}/gone-ica.crt: cannot read the interception CA: ENOENT` },
  { kind: 'admin port clash', yaml: `listen: { host: 127.0.0.1, port: 18080 }\nadmin: { host: 127.0.0.1, port: 18080 }\nendpoints: []\n`, key: 'admin.port', at: '18080 }\nendpoints', msg: () => '18080 is listen.port too, on an address that overlaps (listen.host 127.0.0.1, admin.host 127.0.0.1): the second listener cannot bind it (address already in use) and serve stops at start; give admin.port another port', paths: ['check', 'draft'] },
  { kind: 'restart-only key', yaml: 'listen: { host: 127.0.0.2, port: 0 }\nadmin: { enabled: false }\nendpoints: []\n', key: 'listen.host', at: '127.0.0.2', msg: () => 'changed, and takes effect only after a restart; the running gateway keeps its last good config', paths: ['reload'] },
  { kind: '${env:} reference', yaml: `${HEAD}store: { sealKeys: [{ id: k1, key: "\${env:MTLSGW_PLACED_GONE}" }] }\nendpoints: []\n`, key: 'store.sealKeys[0].key', at: '"${env', msg: () => 'environment variable MTLSGW_PLACED_GONE is not set (referenced as ${env:MTLSGW_PLACED_GONE})' },
]

let dir: string
const running: GatewayProcess[] = []

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtlsgw-placed-'))
  writeFileSync(join(dir, 'not-a-dir.txt'), 'x')
})
afterAll(async () => {
  for (const gp of running) await gp.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

/** `line:column` of the first `needle` in `yaml` (1-based). */
function positionOf(yaml: string, needle: string): string {
  const offset = yaml.indexOf(needle)
  if (offset < 0) throw new Error(`${needle} not in the config`)
  const before = yaml.slice(0, offset).split('\n')
  return `${before.length}:${(before[before.length - 1] as string).length + 1}`
}

/** The lines of `lines` that are problems at `key` of `file`. */
const atKey = (lines: readonly string[], file: string, key: string): string[] => lines.map((l) => l.replace(/^mtls-gateway: /, '')).filter((l) => l.startsWith(`${file}:`) && l.includes(`: ${key}: `))

async function startOutput(file: string, workers: boolean): Promise<string[]> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...(workers ? ['--workers', '2'] : []), '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (c: string) => (output += c))
  expect(await exitedOf(child)).toBe(1)
  return output.split('\n')
}

describe('problems found after the load, at their line in every path', () => {
  it('check and the console\'s draft validator place each kind at its key', () => {
    const current = loadConfig(writeConfig('current.yaml', GOOD))
    for (const row of ROWS.filter((r) => (r.paths ?? ['check']).includes('check'))) {
      const file = writeConfig(`check-${ROWS.indexOf(row)}.yaml`, row.yaml)
      const lines = atKey(runCheck(file).output.split('\n'), file, row.key)
      expect(lines, row.kind).toEqual([expectedLine(file, row)])
      const draft = validateDraft(file, row.yaml, current, restartBaseline(current)).problems.filter((p) => p.key === row.key)
      expect(draft.map((p) => [p.text, p.inDraft]), row.kind).toEqual([[expectedLine(file, row), true]])
    }
  })

  it('a start, one process and --workers 2, refuses in the same words', async () => {
    for (const row of ROWS.filter((r) => (r.paths ?? ['start']).includes('start'))) {
      const file = writeConfig(`start-${ROWS.indexOf(row)}.yaml`, row.yaml)
      for (const workers of [false, true]) expect(atKey(await startOutput(file, workers), file, row.key), `${row.kind}, workers ${workers}`).toEqual([expectedLine(file, row)])
    }
  })

  it('a refused reload (SIGHUP) says the same, one process and --workers 2', async () => {
    for (const workers of [false, true]) {
      const file = writeConfig(`reload-${workers}.yaml`, GOOD)
      const gp = await spawnGateway(file, workers ? ['--workers', '2'] : [])
      running.push(gp)
      for (const row of ROWS.filter((r) => (r.paths ?? ['reload']).includes('reload'))) {
        const from = gp.output.length
        replaceFile(file, row.yaml)
        gp.child.kill('SIGHUP')
        // The refusal of this row's config: the file watch and the signal may each run a reload, and a
        // run the previous row queued may still log its own refusal after `from` (a loaded machine).
        const refusals = (): string[][] => gp.logEntries(from).filter((e) => e.msg === RELOAD_REFUSED).map((e) => e.problems as string[])
        const problems = await eventually(() => refusals().find((p) => atKey(p, file, row.key).length > 0), 60_000, `a refused reload naming ${row.key}`).catch(() => refusals().flat())
        expect(atKey(problems, file, row.key), `${row.kind}, workers ${workers}`).toEqual([expectedLine(file, row)])
        // Back to the good config, so the next row's reload is judged alone.
        const back = gp.output.length
        replaceFile(file, GOOD)
        gp.child.kill('SIGHUP')
        await eventuallyReloaded(gp, back)
      }
    }
  })
})

function writeConfig(name: string, yaml: string): string {
  const file = join(dir, name)
  writeFileSync(file, yaml)
  return file
}

function expectedLine(file: string, row: Row): string {
  const msg = row.msg(dir) || sqliteMessage(file)
  return `${file}:${positionOf(row.yaml, row.at)}: ${row.key}: ${msg}`
}

/** The SQLite driver's words for a file under a regular file (taken from check, whose position is what is tested). */
function sqliteMessage(file: string): string {
  const line = runCheck(file).output.split('\n').find((l) => l.includes(': store.file: ')) ?? ''
  return line.slice(line.indexOf(': store.file: ') + ': store.file: '.length)
}

/** Waits for the reload from output line `from` to be accepted (with --workers, by the primary: a worker's line, a rollback's too, comes before). */
async function eventuallyReloaded(gp: GatewayProcess, from: number): Promise<void> {
  await eventually(() => instanceReloads(gp, from) > 0, 30_000, 'the good config to be reloaded')
}
