/**
 * Signals that reach a `--workers` *worker* while it is still starting (before it serves), at
 * two points of its start: waiting for its config from the primary (before any handler of its
 * own exists) and at listen() (the listener not yet bound).
 *
 * - SIGTERM to the whole process group while the instance starts (systemd's stop, KillMode=
 *   control-group) is one drain once it serves, exit 0, as the primary's own held SIGTERM
 *   promises. Before, a worker waiting for its config died by the signal, and one at listen()
 *   drained and exited 0, and the primary took either for a failed start: exit 1, "worker …
 *   exited while starting". Ctrl-C (SIGINT to the group) likewise: a worker ignores it (the
 *   primary relays it), where one waiting for its config died by it.
 * - SIGTERM to a replacement still starting ends it cleanly (exit 0, nothing served), at listen()
 *   too (its handlers wait until it listens; before, it drained and closed a server not yet bound,
 *   which then bound), and the primary replaces it, saying so at warn with the code (before: an
 *   error, `worker exited unexpectedly`); SIGINT to it is ignored and it goes on to serve.
 *
 * - SIGTERM to the whole process group once the workers serve but while the primary still starts
 *   (its admin listener not bound: it holds its own signal until it serves): the workers drain and
 *   exit 0 first, and the primary, which caught the signal, replaces none of them. Before, it
 *   said `worker exited on its own (code 0): replacing it` for each and forked replacements that
 *   its drain then stopped at once (or called them off, `replacement cancelled`).
 *
 * Real processes: `serve --workers 2` in a session and process group of its own (setsid), its
 * workers held by a preload while a file exists, for as long as the test needs.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { logEntriesOf, MAIN } from '../support/process.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { childPids, eventually, isAlive } from './helpers.js'
import { sendSignal, signalGroup } from '../support/signals.js'

/** A preload after which a worker's request for its config waits while HOLD_LISTEN_FILE exists (its marker written as hold-listen.ts writes it). */
const HOLD_CONFIG_REQUEST = `
const cluster = require('node:cluster'), fs = require('node:fs')
const hold = process.env.HOLD_LISTEN_FILE
if (cluster.isWorker && hold) {
  const send = process.send.bind(process)
  process.send = function (m, ...rest) {
    if (!m || m.type !== 'mtls-gateway:config-request' || !fs.existsSync(hold)) return send(m, ...rest)
    fs.writeFileSync(hold + '.held-' + process.pid, '')
    const t = setInterval(() => { if (!fs.existsSync(hold)) { clearInterval(t); send(m, ...rest) } }, 20)
    return true
  }
}
`
const HOLDS = [
  { at: 'waiting for its config', preload: HOLD_CONFIG_REQUEST },
  { at: 'at listen()', preload: HOLD_LISTEN },
]

const use = useSpawnedGateways()

interface Instance {
  child: ChildProcess
  output: string[]
  hold: string
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  logEntries(from?: number): Record<string, unknown>[]
}
let running: Instance | undefined

afterEach(() => {
  if (running && existsSync(running.hold)) unlinkSync(running.hold)
  // The group this test created (setsid: its id is the primary's pid), and nothing else.
  const pgid = running?.child.pid
  if (pgid !== undefined && running?.child.exitCode === null && running.child.signalCode === null) signalGroup(running.child, 'SIGKILL')
  running = undefined
})

/** `serve --workers 2` as the leader of its own process group, its workers held by `preload` while `held` is true. */
function startInstance(name: string, preload: string, held: boolean, more: NodeJS.ProcessEnv = {}): Instance {
  assertDistFresh()
  const config = join(use.pki.dir, `${name}.yaml`)
  writeFileSync(config, `listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 127.0.0.1, port: 0 }\ndrain: { grace: 20s }\nendpoints:\n${endpointYaml('first', 1, clientTls(use.pki))}`)
  const hold = join(use.pki.dir, `${name}.hold`)
  if (held) writeFileSync(hold, '')
  const env = { ...process.env, NODE_OPTIONS: `--require ${use.pki.write(`${name}.cjs`, preload)}`, HOLD_LISTEN_FILE: hold, ...more }
  const child = spawn('setsid', [process.execPath, MAIN, 'serve', '--config', config, '--workers', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  // Whole lines only: a batch longer than a pipe write reaches us in pieces.
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on('line', (l) => void (l !== '' && output.push(l)))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))) // 'close': after the output's end
  running = { child, output, hold, exit, logEntries: logEntriesOf(output) }
  return running
}

/** The pids of the workers that wrote the preload's `what` marker so far (held: held so far). */
const markedWorkers = (i: Instance, what: 'held' | 'signal' | 'closed-unbound'): number[] => readdirSync(use.pki.dir).filter((f) => f.startsWith(`${i.hold.split('/').pop() as string}.${what}-`)).map((f) => Number(f.split('-').pop()))
const heldWorkers = (i: Instance): number[] => markedWorkers(i, 'held')

/** Lets the held workers go; at listen(), once `signalled` saw their signal reach their JavaScript (so it lands while the listen() is pending). */
async function release(i: Instance, preload: string, signalled: number[]): Promise<void> {
  if (preload === HOLD_LISTEN) await eventually(() => signalled.every((pid) => markedWorkers(i, 'signal').includes(pid)), 30_000, 'the signal to reach the held workers')
  unlinkSync(i.hold)
}

/** A serving instance one of whose workers was killed; its replacement, held at `hold`, got `signal`, then was let go: its pid, and the output line from which it was held. */
async function signalledReplacement(hold: (typeof HOLDS)[number], signal: NodeJS.Signals): Promise<{ i: Instance; primary: number; replacement: number; from: number }> {
  const i = startInstance(`replacement-${signal}-${hold.preload === HOLD_LISTEN ? 'listen' : 'config'}`, hold.preload, false)
  const primary = i.child.pid as number
  await eventually(() => i.output.some((l) => l.includes('"admin listening"')), 60_000, 'the instance to serve')
  const [first] = childPids(primary)
  writeFileSync(i.hold, '')
  sendSignal(first as number, 'SIGKILL', primary)
  const [replacement] = await eventually(() => (heldWorkers(i).length === 1 ? heldWorkers(i) : undefined), 60_000, 'a replacement held')
  const from = i.output.length
  sendSignal(replacement as number, signal, primary)
  await release(i, hold.preload, [replacement as number])
  return { i, primary, replacement: replacement as number, from }
}

for (const hold of HOLDS) {
  describe(`serve --workers 2, its workers ${hold.at}: a signal to the whole process group`, () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      it(`${signal} is one drain once the instance serves: exit 0`, async () => {
        const i = startInstance(`group-${signal}-${hold.preload === HOLD_LISTEN ? 'listen' : 'config'}`, hold.preload, true)
        const held = await eventually(() => heldWorkers(i).length === 2 && heldWorkers(i), 60_000, 'both workers held')
        signalGroup(i.child, signal)
        await release(i, hold.preload, held)
        expect(await i.exit, i.output.join('\n')).toEqual({ code: 0, signal: null })
        // At listen() a worker's SIGTERM ends it (it served nothing); before, it drained and closed a server not bound yet.
        expect(markedWorkers(i, 'closed-unbound')).toEqual([])
        expect(i.logEntries().filter((e) => e.msg === 'draining every worker')).toMatchObject([{ signal }])
        expect(i.output.filter((l) => l.includes('exited while starting'))).toEqual([])
      }, 120_000)
    }
  })

  describe(`serve --workers 2: a replacement worker ${hold.at}`, () => {
    it('SIGTERM ends it cleanly (exit 0), before it serves: the primary says so (warn, code 0) and replaces it', async () => {
      const { i, primary, replacement, from } = await signalledReplacement(hold, 'SIGTERM')
      const exited = await eventually(() => i.logEntries(from).find((e) => e.pid === primary && e.worker === replacement), 60_000, 'the primary to see the replacement exit')
      // A clean exit of its own is no crash (before: error, `worker exited unexpectedly: replacing it`).
      expect(exited).toMatchObject({ level: 'warn', code: 0, signal: null, msg: 'worker exited on its own (code 0): replacing it' })
      await eventually(() => i.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening' && e.worker !== replacement), 60_000, 'its replacement to serve')
      // It never served: at listen() it neither closed its server before it was bound nor told the primary it listens
      // (before, it drained at once, closing the unbound server, which then bound and could be handed connections).
      expect(markedWorkers(i, 'closed-unbound')).toEqual([])
      expect(i.logEntries(from).filter((e) => e.worker === replacement && e.msg === 'replacement worker listening')).toEqual([])
      expect(i.logEntries(from).filter((e) => e.pid === replacement && String(e.msg).startsWith('drain'))).toEqual([])
    }, 120_000)

    it('SIGINT is ignored, as a serving worker ignores it (the primary relays Ctrl-C): it goes on to serve', async () => {
      const { i, primary, replacement, from } = await signalledReplacement(hold, 'SIGINT')
      await eventually(() => i.logEntries(from).some((e) => e.pid === primary && e.msg === 'replacement worker listening' && e.worker === replacement), 60_000, 'the signalled replacement to serve')
      expect(i.logEntries(from).filter((e) => e.pid === primary && e.worker === replacement && e.msg !== 'replacement worker listening')).toEqual([])
    }, 120_000)
  })
}

describe('serve --workers 2 whose workers serve, its primary held at its admin listen(): SIGTERM to the whole process group', () => {
  it('the workers drain and exit first; the primary, holding the signal, replaces none: one drain, exit 0', async () => {
    // Every process lets its first listen() through (a worker's proxy listener, the primary's round-robin handle of it): the primary holds its admin listener.
    const i = startInstance('group-SIGTERM-primary-starting', HOLD_LISTEN, true, { HOLD_LISTEN_ANY: '1', HOLD_LISTEN_SKIP: '1' })
    const primary = i.child.pid as number
    await eventually(() => markedWorkers(i, 'held').includes(primary), 60_000, 'the primary held at its admin listen()')
    const workers = childPids(primary)
    expect(workers).toHaveLength(2)
    signalGroup(i.child, 'SIGTERM')
    // Reaped by the primary: it has seen both exits while it held its own SIGTERM.
    await eventually(() => markedWorkers(i, 'signal').includes(primary) && workers.every((pid) => !isAlive(pid)), 60_000, 'both workers to drain and exit')
    unlinkSync(i.hold)
    expect(await i.exit, i.output.join('\n')).toEqual({ code: 0, signal: null })
    const lines = i.logEntries()
    expect(lines.filter((e) => /exited on its own|replacement/.test(String(e.msg)))).toEqual([])
    // No process but the three: nothing was forked.
    expect([...new Set(lines.map((e) => e.pid))].filter((pid) => pid !== primary && !workers.includes(pid as number))).toEqual([])
    expect(lines.filter((e) => e.msg === 'draining every worker')).toMatchObject([{ signal: 'SIGTERM', workers: 0 }])
    expect(lines.filter((e) => e.pid === primary && e.msg === 'all workers drained: exiting')).toHaveLength(1)
  }, 120_000)
})
