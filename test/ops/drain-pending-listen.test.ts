/**
 * A SIGTERM or SIGINT that reaches one process (`serve --workers 1`) while one of its listen()
 * calls is still pending (the admin listener's, or the proxy listener's once admin is bound) drains
 * it once every listener is bound: it prints its ready lines, drains, exits 0. A listen() that fails
 * meanwhile is the start's failure: exit 1 with the reason, nothing drained. Before, the signal
 * handlers were installed before the proxy listener's listen(): the drain closed a server not
 * bound yet (which then bound all the same, and served while the drain closed the rest) and exited
 * 0 without ever serving, and a listen() that failed meanwhile went unsaid (exit 0).
 *
 * Real processes; the listen() is held by a preload (hold-listen.ts) for as long as the test needs,
 * and the signal is sent once the preload saw it reach the process's JavaScript.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, unlinkSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { clientTls } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { exitedOf, MAIN } from '../support/process.js'
import { START_DEADLINE_MS } from '../support/eventually.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'
import { HOLD_LISTEN } from '../support/hold-listen.js'
import { eventually } from './helpers.js'

const use = useSpawnedGateways()
const DRAINING = 'draining: no new connections, waiting for in-flight requests'
let busy: Server
let child: ChildProcess | undefined

beforeAll(async () => {
  // A port in use, for the listen() that fails.
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
})
afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())))
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = undefined
})

interface Started {
  output: string[]
  exit: Promise<number | null>
  marker(what: 'held' | 'signal' | 'closed-unbound'): boolean
  release(): void
}

/** `serve --workers 1` whose listen() number `skip` (0: admin, 1: proxy) waits until release(). */
function startHeld(name: string, skip: number, port = 0): Started {
  assertDistFresh()
  const config = join(use.pki.dir, `${name}.yaml`)
  writeFileSync(config, `listen: { host: 127.0.0.1, port: ${port} }\nadmin: { host: 127.0.0.1, port: 0 }\ndrain: { grace: 20s }\nendpoints:\n${endpointYaml('first', 1, clientTls(use.pki))}`)
  const hold = join(use.pki.dir, `${name}.hold`)
  writeFileSync(hold, '')
  const env = { ...process.env, NODE_OPTIONS: `--require ${use.pki.write(`${name}.cjs`, HOLD_LISTEN)}`, HOLD_LISTEN_FILE: hold, HOLD_LISTEN_ANY: '1', HOLD_LISTEN_SKIP: String(skip) }
  child = spawn(process.execPath, [MAIN, 'serve', '--config', config, '--workers', '1'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => void (line && output.push(line)))
  const pid = child.pid as number
  return { output, exit: exitedOf(child), marker: (what) => existsSync(`${hold}.${what}-${pid}`), release: () => unlinkSync(hold) }
}

/** Signals the held process once its listen() waits, and lets the listen() go once the signal reached its JavaScript. */
async function signalWhileHeld(s: Started, signal: NodeJS.Signals): Promise<void> {
  await eventually(() => s.marker('held'), START_DEADLINE_MS, 'a listen() held')
  child?.kill(signal)
  await eventually(() => s.marker('signal'), 30_000, 'the signal to reach the process')
  s.release()
}

const entries = (output: string[]): Record<string, unknown>[] => output.filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as Record<string, unknown>)

describe('one process signalled while a listen() is pending', () => {
  const cases = [
    { signal: 'SIGTERM', at: "the admin listener's", skip: 0 },
    { signal: 'SIGTERM', at: "the proxy listener's", skip: 1 },
    { signal: 'SIGINT', at: "the proxy listener's", skip: 1 },
  ] as const
  for (const c of cases) {
    it(`${c.signal} during ${c.at} listen(): serves (ready lines), then drains, exit 0; no server closed before it was bound`, async () => {
      const s = startHeld(`${c.signal}-${c.skip}`, c.skip)
      await signalWhileHeld(s, c.signal)
      expect(await s.exit, s.output.join('\n')).toBe(0)
      expect(s.marker('closed-unbound')).toBe(false)
      expect(s.output.filter((l) => l.startsWith('{"msg"')).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['listening', 'admin listening'])
      expect(entries(s.output).filter((e) => e.msg === DRAINING)).toMatchObject([{ trigger: c.signal, inFlight: 0 }])
      expect(entries(s.output).some((e) => e.msg === 'drained: exiting')).toBe(true)
    }, 120_000)
  }

  it("SIGTERM, then the proxy listener's listen() fails (port in use): the start's failure, exit 1 with the reason, nothing drained", async () => {
    const s = startHeld('in-use', 1, (busy.address() as AddressInfo).port)
    await signalWhileHeld(s, 'SIGTERM')
    expect(await s.exit, s.output.join('\n')).toBe(1)
    expect(s.output).toContain(`mtls-gateway: cannot listen on 127.0.0.1:${(busy.address() as AddressInfo).port}: address already in use (--port, or listen.port / admin.port in the config)`)
    expect(s.marker('closed-unbound')).toBe(false)
    expect(entries(s.output).filter((e) => e.msg === DRAINING)).toEqual([])
    expect(s.output.some((l) => l.includes('"msg":"listening"'))).toBe(false)
  }, 120_000)
})
