/**
 * The dates of the TLS files besides endpoint bundles (README "Degraded endpoints"): a listener's
 * `clientCa`, `tracing.otlp.tls` and `store.redis.tls` whose certificates are expired or not yet
 * valid fail `check`, one line per certificate naming the file and key; a start (and a reload,
 * and the `--workers` primary's verdict) goes on, as with an expired bundle, and warns with `check`'s very line. A CA file
 * that still holds one valid certificate (a rotation: the old CA kept beside the new) is fine.
 */
import { mkdirSync } from 'node:fs'
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

/** Files by what they hold: CAs and client certificates (of client.key) outside their validity, and a CA file with one valid certificate. */
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
  }
}, 60_000)
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

describe('TLS files outside their validity', () => {
  it('fail check, one line naming file and key; the start goes on and warns with that line', async () => {
    for (const target of [...CA_TARGETS, ...CERT_TARGETS]) {
      for (const when of ['expired', 'not-yet-valid'] as const) {
        const file = files[`${CA_TARGETS.includes(target as never) ? 'ca' : 'cert'}-${when}`] as string
        const config = configWith(target, file)
        const check = runCheck(config)
        const words = when === 'expired' ? 'expired on' : 'not valid before'
        const lines = check.output.split('\n').filter((l) => l.startsWith(`${file}: ${target}: `))
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
  }, 120_000)

  it('a CA file that still holds a valid certificate beside an expired or future one passes check', () => {
    for (const target of CA_TARGETS) {
      for (const when of ['expired', 'not-yet-valid']) {
        const check = runCheck(configWith(target, files[`rotation-${when}`] as string))
        expect({ target, when, ok: check.ok }, check.output).toEqual({ target, when, ok: true })
      }
    }
  }, 60_000)
})
