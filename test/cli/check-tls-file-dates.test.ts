/**
 * The dates of the TLS files besides endpoint bundles (README "Degraded endpoints"): a listener's
 * own `cert` (and the intermediates it sends) and `clientCa`, `tracing.otlp.tls` and `store.redis.tls` whose certificates are expired or not yet
 * valid fail `check`, one line per certificate naming the file and key; a start (and a reload,
 * and the `--workers` primary's verdict) goes on, as with an expired bundle, and warns with `check`'s very line. A CA file
 * that still holds one valid certificate (a rotation: the old CA kept beside the new) is fine.
 */
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { startGateway } from '../../src/cli/gateway-root.js'
import { loadConfig } from '../../src/config/index.js'
import { startProblems } from '../../src/gateway/index.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { prepareParityPki, writeParityConfig, type ParityTarget } from '../support/parity-config.js'
import { createTestPki, type TestPki } from '../support/pki.js'

const DAY = 86_400_000
let pki: TestPki
let run = 0

/** Files by what they hold: CAs, client certificates (of client.key) and listener certificates with their chain (of server.key) outside their validity, and a CA file with one valid certificate. */
const files: Record<string, string> = {}

beforeAll(async () => {
  pki = await createTestPki()
  prepareParityPki(pki)
  const past = { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 2 * DAY) }
  const future = { notBefore: new Date(Date.now() + 2 * DAY), notAfter: new Date(Date.now() + 30 * DAY) }
  for (const [name, dates] of [['expired', past], ['not-yet-valid', future]] as const) {
    const ca = await pki.issue({ subject: `CN=Old CA ${name}`, ca: true, ...dates })
    files[`ca-${name}`] = pki.write(`ca-${name}.crt`, ca.pem)
    const client = await pki.issue({ subject: `CN=client ${name}`, issuer: pki.inter, keys: pki.client.keys, usages: ['clientAuth'], ...dates })
    files[`cert-${name}`] = pki.write(`client-${name}.crt`, client.pem)
    files[`rotation-${name}`] = pki.write(`rotation-${name}.crt`, ca.pem + pki.root.pem)
    const server = await pki.issue({ subject: `CN=listener ${name}`, issuer: pki.inter, keys: pki.server.keys, usages: ['serverAuth'], names: ['localhost'], ...dates })
    files[`server-${name}`] = pki.write(`server-${name}.crt`, server.pem + pki.inter.pem)
  }
  // A listener certificate still valid, sent with an intermediate that expired.
  const oldInter = await pki.issue({ subject: 'CN=Old Inter', issuer: pki.root, ca: true, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 2 * DAY) })
  const leaf = await pki.issue({ subject: 'CN=listener under old inter', issuer: oldInter, keys: pki.server.keys, usages: ['serverAuth'], names: ['localhost'] })
  files['server-old-inter'] = pki.write('server-old-inter.crt', leaf.pem + oldInter.pem)
})
afterAll(() => pki.cleanup())

/** The base config (Redis store: its TLS files are read) with `target` replaced. */
function configWith(target: ParityTarget, file: string): string {
  const dir = join(pki.dir, `run-${++run}`)
  mkdirSync(dir)
  return writeParityConfig(pki, dir, { paths: { [target]: file }, store: 'redis' })
}

/** Starts the gateway as `serve` does, in this process, and returns its log lines. */
async function startLines(file: string): Promise<{ started: boolean; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = []
  const ops = createOps({ log: createLog({ destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } }), watch: false, signals: false })
  try {
    const gw = await startGateway({ configFile: file, ops })
    await gw.close()
    return { started: true, lines }
  } catch {
    return { started: false, lines }
  }
}

const CA_TARGETS = ['listen.tls.clientCa', 'admin.tls.clientCa', 'tracing.otlp.tls.ca', 'store.redis.tls.ca'] as const
const CERT_TARGETS = ['tracing.otlp.tls.cert', 'store.redis.tls.cert'] as const
const SERVER_TARGETS = ['listen.tls.cert', 'admin.tls.cert'] as const

/** `line:column` where `file` is first named in the config file `config`. */
function positionOf(config: string, file: string): string {
  const before = readFileSync(config, 'utf8').split(file)[0]?.split('\n') ?? []
  return `${before.length}:${(before[before.length - 1] ?? '').length + 1}`
}

/** The file of `when`'s dates for `target`: a CA, a client certificate or a listener's chain. */
function datedFile(target: ParityTarget, when: string): string {
  const kind = CA_TARGETS.includes(target as never) ? 'ca' : SERVER_TARGETS.includes(target as never) ? 'server' : 'cert'
  return files[`${kind}-${when}`] as string
}

/** Each file of `targets` expired, then not yet valid: check fails with one line naming file and key; the start goes on and warns with it; the reload verdict accepts it. */
async function expectDatedLines(targets: readonly ParityTarget[]): Promise<void> {
  for (const target of targets) {
    for (const when of ['expired', 'not-yet-valid'] as const) {
      const file = datedFile(target, when)
      const config = configWith(target, file)
      const check = runCheck(config)
      const words = when === 'expired' ? 'expired on' : 'not valid before'
      // At the key's line in the config, naming the dated file (before: the file's name in place of the config's, no line).
      const lines = check.output.split('\n').filter((l) => l.startsWith(`${config}:${positionOf(config, file)}: ${target}: ${file}: `))
      expect({ target, when, ok: check.ok, lines: lines.length }, check.output).toEqual({ target, when, ok: false, lines: 1 })
      expect(lines[0]).toContain(words)
      expect(check.output).toContain('check failed: 1 problem(s)')
      const start = await startLines(config)
      expect({ target, when, started: start.started }).toEqual({ target, when, started: true })
      const warned = start.lines.filter((l) => l.level === 'warn' && l.key === target).map((l) => l.problem)
      expect({ target, warned }).toEqual({ target, warned: lines })
      // The verdict a reload (and the --workers primary) reads: accepted, as the start was.
      expect({ target, reload: startProblems(loadConfig(config)).problems }).toEqual({ target, reload: [] })
    }
  }
}

describe('TLS files outside their validity', () => {
  it('fail check, one line naming file and key; the start goes on and warns with that line', async () => {
    await expectDatedLines([...CA_TARGETS, ...CERT_TARGETS])
  }, 120_000)

  it("the listeners' own certificates (leaf and the intermediates they send) too", async () => {
    await expectDatedLines(SERVER_TARGETS)
  })

  it("a listener's certificate in the words of its role: the server certificate, then each intermediate it sends", async () => {
    for (const target of SERVER_TARGETS) {
      const expired = runCheck(configWith(target, files['server-expired'] as string)).output
      const dated = files['server-expired'] as string
      expect(expired).toMatch(new RegExp(`: ${target.replace(/\./g, '\\.')}: ${dated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: server certificate expired on \\S+ \\("CN=listener expired"\\)`))
      const config = configWith(target, files['server-old-inter'] as string)
      const check = runCheck(config)
      const lines = check.output.split('\n').filter((l) => l.includes(`: ${target}: `))
      expect({ target, ok: check.ok, lines }).toEqual({ target, ok: false, lines: [expect.stringContaining('intermediate certificate of the server chain expired on')] })
      expect(lines[0]).toContain('("CN=Old Inter")')
      const start = await startLines(config)
      expect({ target, started: start.started, warned: start.lines.filter((l) => l.level === 'warn' && l.key === target).map((l) => l.problem) }).toEqual({ target, started: true, warned: lines })
    }
  })

  it('a CA file that still holds a valid certificate beside an expired or future one passes check', () => {
    for (const target of CA_TARGETS) {
      for (const when of ['expired', 'not-yet-valid']) {
        const check = runCheck(configWith(target, files[`rotation-${when}`] as string))
        expect({ target, when, ok: check.ok }, check.output).toEqual({ target, when, ok: true })
      }
    }
  })
})
