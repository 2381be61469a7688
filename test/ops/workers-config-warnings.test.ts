/**
 * A config's risks (a legacyOAuth10 profile, endpoints forward mode cannot tell apart) are said
 * once per instance for each config it adopts: with `--workers 2` the primary says them at the
 * start and on an accepted reload, and no worker repeats them (before, each worker did, so an
 * operator saw one copy per worker, and one more per replacement). The new config is written
 * under the primary's file watcher as well, so one or two reloads are accepted: each says them once.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { finalEntries } from '../support/log-entries.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { childPids, eventually } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()
const API = 'https://api.partner.test:8443'

// Every endpoint on api.partner.test:1 without a pathPrefix: forward mode always picks `general`.
const yaml = (extraEndpoint: string[]): string =>
  'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\n' +
  `profiles:\n  - { name: partner, consumerKey: ck, consumerSecret: cs, requestTokenUrl: ${API}/rt, accessTokenUrl: ${API}/at, authorizeUrl: ${API}/auth, token: { mode: static, token: t, tokenSecret: s }, legacyOAuth10: true }\n` +
  `endpoints:\n${['general', 'billing', ...extraEndpoint].map((n) => endpointYaml(n, 1, clientTls(use.pki), n === 'general' ? '    profile: partner\n' : '')).join('')}`

const isLegacy = (e: Record<string, unknown>): boolean => e.profile === 'partner' && String(e.msg).includes('session fixation')
const isShadowed = (e: Record<string, unknown>): boolean => e.endpoint === 'billing' && String(e.msg).startsWith('endpoint never chosen for forward-proxy')

describe('serve --workers 2: config warnings', () => {
  it('are logged once, by the primary, at the start and on each accepted reload', async () => {
    const config = join(use.pki.dir, 'warned.yaml')
    writeFileSync(config, yaml([]))
    const gp = await use.spawn(config, ['--workers', '2'])
    const primary = gp.child.pid as number
    await eventually(() => (childPids(primary).length === 2 || undefined), 60_000, 'both workers')
    const from = gp.output.length
    writeFileSync(config, yaml(['third']))
    sendSignal(primary, 'SIGHUP')
    await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'reload accepted by every worker' && e.endpoints === 3), 60_000, 'the reload')
    // A worker adopts a config before it logs `config reloaded`: once both have, every line either would write with the start's or the reload's has come.
    // Each worker's line: the file watcher's reload of the same bytes (below) may bring a second one of a worker.
    await eventually(() => new Set(gp.logEntries(from).filter((e) => e.msg === 'config reloaded' && e.endpoints === 3).map((e) => e.pid)).size === 2 || undefined, 30_000, 'both workers to reload')
    // The file watcher may reload the same bytes once more (its check came before the SIGHUP's
    // reload was accepted, as on a loaded machine): one set per accepted reload, whatever their number.
    // Read once every line is out: a worker's lines of that reload, and the primary's, may still be in their batches.
    const entries = await finalEntries(gp)
    expect(entries.filter((e) => (isLegacy(e) || isShadowed(e)) && (e.pid !== primary || e.level !== 'warn'))).toEqual([])
    const said = entries.filter((e) => e.pid === primary).map((e) => (isLegacy(e) ? 'L' : isShadowed(e) ? 'S' : e.msg === 'reload: relaying to every worker' ? 'R' : e.msg === 'reload accepted by every worker' ? 'A' : '')).join('')
    // The start's set, then each reload's between its relaying and its acceptance; a reload the drain
    // came in the middle of, before its acceptance, says none.
    expect(said).toMatch(/^LS(RLSA)+R?$/)
  }, 180_000)
})
