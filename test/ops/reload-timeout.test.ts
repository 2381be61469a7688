/**
 * `serve --reload-timeout` (MTLS_GATEWAY_RELOAD_TIMEOUT) is the window of a `--workers` reload:
 * a serving worker that does not answer a reload within it fails the reload and is drained and
 * replaced (`reload_unanswered`), and the verdict names the window, so an operator can tell which
 * one applied. One process (`--workers 1`) has no worker to wait for: it accepts the flag and the
 * variable (a deployment sets them once, whatever the CPU quota makes of `--workers`) and reloads
 * as ever.
 *
 * Fault injection, not timing: the worker is stopped (SIGSTOP) before the reload, so it cannot
 * answer under any window; the window only decides the text and when the verdict comes.
 */
import { readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml, send } from '../support/gateway.js'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { LONG_TIMERS_ELAPSE } from '../support/long-timers-elapse.js'
import { childPids, eventually, RELOAD_REFUSED, scrape, valueOf } from './helpers.js'
import { sendSignal } from '../support/signals.js'

const use = useSpawnedGateways()

/** `serve` on a config naming the endpoints `names` (none listens: a known one answers 502, an unknown one 403). */
async function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ gp: GatewayProcess; config: string }> {
  const config = join(use.pki.dir, `${name}.yaml`)
  writeFileSync(config, yamlOf(['first']))
  return { gp: await use.spawn(config, args, env), config }
}

/** Runs `fn` with one of `gp`'s two workers stopped (SIGSTOP: it answers nothing), given its pid and the output line from which on it is stopped. */
async function withWorkerStopped(gp: GatewayProcess, fn: (stopped: number, from: number) => Promise<void>): Promise<void> {
  const primary = gp.child.pid as number
  const [stopped] = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')
  const from = gp.output.length
  sendSignal(stopped as number, 'SIGSTOP', primary)
  try {
    await fn(stopped as number, from)
  } finally {
    sendSignal(stopped as number, 'SIGCONT', primary)
  }
}

/** SIGHUP to the primary, and its verdict: the refusal logged from output line `from` on. */
async function reloadVerdict(gp: GatewayProcess, from: number): Promise<Record<string, unknown>> {
  sendSignal(gp.child, 'SIGHUP')
  return eventually(() => gp.logEntries(from).find((e) => e.pid === gp.child.pid && e.msg === RELOAD_REFUSED), 90_000, 'the verdict')
}

const yamlOf = (names: string[]): string => `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\nendpoints:\n${names.map((n) => endpointYaml(n, 1, clientTls(use.pki))).join('')}`

describe('serve --reload-timeout', () => {
  it('with --workers 2, a worker that does not answer a reload within the window (from the flag) fails it, named with that window, and is drained', async () => {
    const { gp } = await start('workers', ['--workers', '2', '--reload-timeout', '3s'])
    await withWorkerStopped(gp, async (stopped, from) => {
      const verdict = await reloadVerdict(gp, from)
      expect(verdict.problems).toEqual([`worker ${stopped}: no answer to the reload within 3000 ms`])
      const left = await eventually(() => gp.logEntries(from).find((e) => e.pid === gp.child.pid && e.reason === 'reload_unanswered'), 30_000, 'the drain')
      expect(left).toMatchObject({ worker: stopped, problem: 'it did not answer the reload within 3000 ms' })
    })
    const metrics = await scrape(await adminUrlOf(gp))
    expect(valueOf(metrics, 'mtls_gateway_worker_drains_total', { reason: 'reload_unanswered' })).toBe(1)
  }, 180_000)

  it('the variable sets the window as the flag does', async () => {
    const { gp } = await start('variable', ['--workers', '2'], { MTLS_GATEWAY_RELOAD_TIMEOUT: '2500ms' })
    await withWorkerStopped(gp, async (stopped, from) => {
      expect((await reloadVerdict(gp, from)).problems).toEqual([`worker ${stopped}: no answer to the reload within 2500 ms`])
    })
  }, 180_000)

  it('a replacement that asks for its config during a reload waits for it however long the reload takes, and serves', async () => {
    // The reload waits for a replacement held at listen() (the window is long: the test ends the
    // hold); a second replacement's config waits for the reload. Before, a worker gave up on its
    // config after a fixed 60 s and more: here every timer of a minute or more in the waiting
    // worker elapses at once, so no such timer may guard its wait.
    const hold = join(use.pki.dir, 'hold-listen')
    const elapse = join(use.pki.dir, 'long-timers')
    const preloads = `--require ${use.pki.write('hold-listen.cjs', HOLD_LISTEN)} --require ${use.pki.write('long-timers.cjs', LONG_TIMERS_ELAPSE)}`
    const { gp } = await start('long', ['--workers', '2', '--reload-timeout', '10m'], { NODE_OPTIONS: preloads, HOLD_LISTEN_FILE: hold, LONG_TIMERS_FILE: elapse })
    const primary = gp.child.pid as number
    const [first, second] = await eventually(() => (childPids(primary).length === 2 ? childPids(primary) : undefined), 60_000, 'both workers')
    const from = gp.output.length
    const primaryLine = (msg: string): Record<string, unknown> | undefined => gp.logEntries(from).find((e) => e.pid === primary && e.msg === msg)
    writeFileSync(hold, '')
    try {
      sendSignal(first as number, 'SIGKILL', primary)
      await eventually(() => readdirSync(use.pki.dir).some((f) => f.startsWith('hold-listen.held-')), 60_000, 'a replacement held at listen()')
      sendSignal(primary, 'SIGHUP')
      await eventually(() => primaryLine('reload: waiting for starting workers to serve'), 30_000, 'the reload to wait')
      writeFileSync(elapse, '')
      sendSignal(second as number, 'SIGKILL', primary)
      // A worker that gave up on its config reports it: then no need to wait on.
      await eventually(() => primaryLine('a starting worker waits for the reload in progress to get its config') ?? primaryLine('a replacement worker could not start'), 60_000, 'the second replacement to ask for its config')
    } finally {
      unlinkSync(hold)
    }
    await eventually(() => primaryLine('reload accepted by every worker') ?? primaryLine(RELOAD_REFUSED), 60_000, 'the verdict')
    await eventually(() => gp.logEntries(from).filter((e) => e.pid === primary && e.msg === 'replacement worker listening').length >= 2 || primaryLine('a replacement worker could not start'), 60_000, 'the replacements to serve')
    unlinkSync(elapse)
    expect(gp.logEntries(from).filter((e) => e.msg === 'a replacement worker could not start')).toEqual([])
    expect(primaryLine('reload accepted by every worker')).toBeDefined()
  }, 180_000)

  it('one process (--workers 1) accepts the flag and reloads as without it', async () => {
    const { gp, config } = await start('one', ['--workers', '1', '--reload-timeout', '1ms'])
    expect((await send(gp.url, '/proxy/second/a')).status).toBe(403)
    const from = gp.output.length
    writeFileSync(config, yamlOf(['first', 'second']))
    sendSignal(gp.child, 'SIGHUP')
    await eventually(() => gp.logEntries(from).find((e) => e.msg === 'config reloaded' && e.endpoints === 2), 60_000, 'the reload')
    expect((await send(gp.url, '/proxy/second/a')).status).toBe(502)
  }, 120_000)
})
