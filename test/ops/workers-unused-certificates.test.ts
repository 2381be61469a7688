/**
 * Bundle certificates the client chain does not use (here an intermediate of another chain in
 * `intermediates`) are said by `check` as warning lines, and with `--workers 2` by the primary in
 * the same words when the start adopts the config and when a SIGHUP reload is accepted; no worker
 * repeats them. Coverage of existing behaviour (the primary's vouchFor → logConfigWarnings): this
 * test passed when written. The watcher may accept the same bytes once more: one set per acceptance.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { finalEntries } from '../support/log-entries.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { childPids, eventually } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()

const yaml = (inters: string, names: string[]): string =>
  'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n' +
  `endpoints:\n${names.map((n) => endpointYaml(n, 1, { ...clientTls(use.pki), intermediates: inters })).join('')}`

/** A warning entry in check's line form: file:line:column: key: warning: msg. */
const asCheckLine = (e: Record<string, unknown>): string => `${String(e.file)}:${String(e.line)}:${String(e.column)}: ${String(e.key)}: warning: ${String(e.msg)}`
const isUnused = (e: Record<string, unknown>): boolean => String(e.key ?? '').endsWith('.tls.intermediates') && String(e.msg).includes("is not in the client certificate's chain")

describe('serve --workers 2: unused bundle certificates', () => {
  it('the primary logs check\'s warning words at the start and on an accepted SIGHUP reload; no worker does', async () => {
    const otherRoot = await use.pki.issue({ subject: 'CN=Other Root', ca: true })
    const otherInter = await use.pki.issue({ subject: 'CN=Other Intermediate', issuer: otherRoot, ca: true, pathLength: 0 })
    const inters = use.pki.write('inters-unused.crt', use.pki.inter.pem + otherInter.pem)
    const config = join(use.pki.dir, 'unused.yaml')
    writeFileSync(config, yaml(inters, ['partner']))
    const startWords = runCheck(config).output.split('\n').filter((l) => l.includes(': warning: '))
    expect(startWords).toHaveLength(1)
    const gp = await use.spawn(config, ['--workers', '2'])
    const primary = gp.child.pid as number
    await eventually(() => (childPids(primary).length === 2 || undefined), 60_000, 'both workers')
    // The ready line is written at once, the primary's log lines in batches: its start's warning may come after.
    const startLines = (entries = gp.logEntries()): string[] => {
      const relayed = entries.findIndex((e) => e.pid === primary && e.msg === 'reload: relaying to every worker')
      return (relayed < 0 ? entries : entries.slice(0, relayed)).filter((e) => isUnused(e) && e.pid === primary && e.level === 'warn').map(asCheckLine)
    }
    expect(await eventually(() => startLines().length > 0 && startLines(), 30_000, 'the start\'s warning')).toEqual(startWords)
    // The reload: a second endpoint with the same bundle, two warnings now.
    const from = gp.output.length
    writeFileSync(config, yaml(inters, ['partner', 'billing']))
    const reloadWords = runCheck(config).output.split('\n').filter((l) => l.includes(': warning: '))
    expect(reloadWords).toHaveLength(2)
    sendSignal(primary, 'SIGHUP')
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload accepted by every worker' && e.endpoints === 2), 60_000, 'the reload')
    // Each worker's line (the file watcher may reload the same bytes once more: two lines of a worker count once).
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded' && e.endpoints === 2).map((e) => e.pid)).size === 2 || undefined, 30_000, 'both workers to reload')
    // Read once every line is out: a reload still in flight has written both its warnings then, and no worker's line is left in a batch.
    const entries = await finalEntries(gp)
    // Once at the start: every line the primary wrote before its reload's is out now.
    expect(startLines(entries)).toEqual(startWords)
    expect(entries.filter((e) => isUnused(e) && (e.pid !== primary || e.level !== 'warn'))).toEqual([])
    const afterReload = gp.logEntries(from).filter((e) => isUnused(e))
    expect(afterReload.length).toBeGreaterThanOrEqual(2)
    expect(afterReload.length % 2).toBe(0)
    expect(afterReload.slice(0, 2).map(asCheckLine)).toEqual(reloadWords)
  }, 180_000)
})
