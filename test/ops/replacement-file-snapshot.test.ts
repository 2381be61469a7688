/**
 * A `--workers` instance is one gateway at every reload: every worker builds from the exact
 * inputs the primary read once (the config text and the bytes of every file it references),
 * and a reload one worker refuses is refused by the instance.
 *
 * A replacement builds from the last good config's text and those bytes as they were when it was accepted.
 * Here the client certificate/key and a `${file:}` secret are replaced on disk together with a
 * config change that the reload refuses; one worker is then killed. Before, the replacement
 * read the files from disk as they were by then: every other request left with the new
 * certificate (CN=cert-b) and the new header value, the rest with the old ones. Then a good
 * reload that changed files only, and another replacement, which must build from those files.
 *
 * Then a relayed reload while a Secret rotation is still writing: one worker is stopped, the
 * reload is relayed, the files change again while it wakes: before, it read the disk then and
 * served other bytes than its sibling. Last, one worker cannot build a reload (its
 * descriptor limit lowered, so the store the new config needs cannot open in it): before, the
 * primary reported success and the other worker served the new config.
 *
 * Real processes: `serve --workers 2`, a real TLS upstream recording the peer certificate of
 * every request, and one new connection per request so the primary hands them to both workers.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { privateKeyPem } from '../../src/tls/index.js'
import type { TestPki } from '../support/pki.js'
import { send } from '../support/gateway.js'
import type { EchoReply } from '../support/tls-server.js'
import { atDescriptorLimit, childPids, eventually, get, RELOAD_REFUSED, replaceFile, scrape, STORE_CALLERS, valueOf } from './helpers.js'
import { useTwoWorkers } from './two-workers.js'
import { sendSignal } from '../support/signals.js'

const w = useTwoWorkers({
  fields: '    fields: [{ type: header, key: X-Org, value: "${file:org-secret}" }]\n',
  prepare: (pki) => writeFileSync(join(pki.dir, 'org-secret'), 'alpha-org-secret\n', { mode: 0o600 }),
})
const entries = (): Record<string, unknown>[] => w.gp.logEntries()

/** What the upstream saw for `n` requests, each on a new connection: client CN and the X-Org header. */
async function seen(n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = await send(w.gp.url, `/proxy/partner/x${i}`)
    expect(r.status).toBe(200)
    const reply = r.json<EchoReply>()
    out.push(`${/CN=([^,]+)/.exec(reply.clientSubject ?? '')?.[1] ?? 'none'} ${String(reply.headers['x-org'])}`)
  }
  return out
}

const workers = (): number[] => childPids(w.gp.child.pid as number)

const RELOAD_LINES = new Set(['reload accepted by every worker', 'config reloaded', RELOAD_REFUSED])
/**
 * Resolves once no process has logged a reload for `quietMs`: a file change written near the end
 * of one case (a rotation the watcher saw mid-way, then the files written back) may still be
 * reloading when the next case starts counting lines.
 */
async function reloadsSettled(quietMs = 3000): Promise<void> {
  const count = (): number => entries().filter((e) => RELOAD_LINES.has(e.msg as string)).length
  for (let seenCount = -1, still = 0; still < quietMs; ) {
    const now = count()
    still = now === seenCount ? still + 250 : 0
    seenCount = now
    await sleep(250)
  }
}
const said = (pid: number, msg: string, from: number): Record<string, unknown> | undefined => entries().slice(from).find((e) => e.pid === pid && e.msg === msg)

/** Rotates the client certificate, its key and the `${file:}` secret, as a Secret update does (file by file). */
function rotate(cert: Awaited<ReturnType<TestPki['issue']>>, secret: string): void {
  const { pki } = w
  replaceFile(pki.file('client.key'), privateKeyPem(cert))
  replaceFile(pki.file('client.crt'), cert.pem)
  replaceFile(join(pki.dir, 'org-secret'), `${secret}\n`)
}

describe('a replacement worker after a refused reload that came with new files', () => {
  it('presents the certificate and sends the secret its siblings loaded, not the files now on disk', async () => {
    const { gp, config, yaml, pki } = w
    expect(await seen(8)).toEqual(Array(8).fill('bot-runtime alpha-org-secret'))
    const b = await pki.issue({ subject: 'CN=cert-b,O=mtls-gateway tests', issuer: pki.inter, usages: ['clientAuth'] })
    replaceFile(pki.file('client.key'), privateKeyPem(b))
    replaceFile(pki.file('client.crt'), b.pem)
    replaceFile(join(pki.dir, 'org-secret'), 'bravo-org-secret\n')
    replaceFile(config, yaml + 'notAKey: true\n')
    const primary = gp.child.pid as number
    sendSignal(primary, 'SIGHUP')
    // The primary judges the file once (it does not parse): nothing is relayed, one refusal is logged.
    await eventually(() => entries().some((e) => e.msg === RELOAD_REFUSED && e.pid === primary), 30_000, 'the instance to refuse the reload')
    // The survivors still run the last good config with the old bytes.
    expect(await seen(4)).toEqual(Array(4).fill('bot-runtime alpha-org-secret'))
    const workers = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    expect(workers).toHaveLength(2)
    sendSignal(workers[0] as number, 'SIGKILL', primary)
    await eventually(() => entries().some((e) => e.msg === 'replacement worker listening'), 60_000, 'the replacement to listen')
    // The instance is one gateway: every request, whichever worker serves it, as a fresh start of the last good config.
    expect(await seen(8)).toEqual(Array(8).fill('bot-runtime alpha-org-secret'))
    // A later good reload reads the disk again, as before.
    const good = entries().length
    replaceFile(config, yaml)
    sendSignal(primary, 'SIGHUP')
    await eventually(() => said(primary, 'reload accepted by every worker', good), 30_000, 'both workers to reload')
    expect(await seen(8)).toEqual(Array(8).fill('cert-b bravo-org-secret'))
    // That reload changed files only (its text is the start's, as in every certificate or secret
    // rotation): a replacement now builds from the files it accepted, not from the start's (review
    // rev-Q: it reused its start config whenever the texts were equal and sent the old secret).
    const survivors = execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' }).trim().split('\n').map(Number)
    sendSignal(survivors[0] as number, 'SIGKILL', primary)
    await eventually(() => entries().filter((e) => e.msg === 'replacement worker listening').length >= 2, 60_000, 'the second replacement to listen')
    expect(await seen(8)).toEqual(Array(8).fill('cert-b bravo-org-secret'))
  }, 240_000)
})

describe('a relayed reload while a rotation is still writing the files', () => {
  it('builds every worker from the bytes the primary read, not the disk as each worker finds it', async () => {
    const { pki } = w
    const [sleeper, awake] = workers() as [number, number]
    const c = await pki.issue({ subject: 'CN=cert-c,O=mtls-gateway tests', issuer: pki.inter, usages: ['clientAuth'] })
    const d = await pki.issue({ subject: 'CN=cert-d,O=mtls-gateway tests', issuer: pki.inter, usages: ['clientAuth'] })
    const from = entries().length
    sendSignal(sleeper, 'SIGSTOP', w.gp.child.pid)
    try {
      // The watcher's reload (a SIGHUP as well would queue a second one, reading the disk later).
      rotate(c, 'charlie-org-secret')
      await eventually(() => said(awake, 'config reloaded', from), 30_000, 'the awake worker to reload')
      // The rotation goes on while the other worker sleeps, and until it has reloaded: writes never
      // quiet long enough for the watcher to take them as a change.
      let woke = false
      const waking = eventually(() => said(sleeper, 'config reloaded', from) ?? said(sleeper, RELOAD_REFUSED, from), 30_000, 'the woken worker to reload').finally(() => (woke = true))
      sendSignal(sleeper, 'SIGCONT')
      while (!woke) {
        rotate(d, 'delta-org-secret')
        await sleep(50)
      }
      await waking
    } finally {
      sendSignal(sleeper, 'SIGCONT')
    }
    // The disk back at what the primary read: nothing more to reload.
    rotate(c, 'charlie-org-secret')
    await eventually(async () => (await seen(8)).every((x) => x === 'cert-c charlie-org-secret'), 30_000, 'every worker to present cert-c and send charlie')
  }, 120_000)
})

describe('a reload one worker cannot build', () => {
  it('fails for the instance, loudly, and the worker that built it goes back to the last good config', async () => {
    const { gp, config, yaml, admin } = w
    const primary = gp.child.pid as number
    const failures = async (): Promise<number> => valueOf(await scrape(admin), 'mtls_gateway_config_reloads_total', { result: 'failure' }) ?? 0
    const failed = await failures()
    const [refuser, other] = workers() as [number, number]
    // The previous case's rotation may have left the watcher a change to reload: let it finish first.
    await reloadsSettled()
    const from = entries().length
    // Caller apps: the first config that needs the store, which each worker opens as it builds it; and a new header value.
    await atDescriptorLimit(refuser, async () => {
      // The watcher's reload (no SIGHUP: one reload, not two).
      replaceFile(config, STORE_CALLERS + yaml.replace('${file:org-secret}', 'refused-value'))
      const failure = await eventually(() => said(primary, RELOAD_REFUSED, from), 30_000, 'the instance to refuse the reload')
      expect(failure.problems).toEqual([expect.stringMatching(new RegExp(`^worker ${refuser}: `))])
      // The other worker built it, and then the last good config again.
      await eventually(() => entries().slice(from).filter((e) => e.pid === other && e.msg === 'config reloaded').length === 2, 30_000, 'the other worker to go back')
    })
    expect(entries().slice(from).filter((e) => e.msg === 'reload accepted by every worker')).toEqual([])
    expect(await failures()).toBe(failed + 1)
    expect((await get(`${admin}/readyz`)).status).toBe(200)
    // One config on every worker: the last good one.
    expect(await seen(8)).toEqual(Array(8).fill('cert-c charlie-org-secret'))
  }, 120_000)
})

