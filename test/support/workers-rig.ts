/**
 * One mTLS backend and the real gateway with `--workers 2` on a config file it writes: the rig of
 * tests that check a behaviour on both workers and again after a hot reload (SIGHUP).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { childPids } from '../ops/helpers.js'
import { eventually } from './eventually.js'
import { answeredBy } from './log-entries.js'
import { createTestPki, type TestPki } from './pki.js'
import { spawnGateway, type GatewayProcess } from './process.js'
import { startMtlsServer, type RunningServer } from './tls-server.js'

/** The backend, the gateway process and its config file. */
export interface WorkersRig {
  pki: TestPki
  upstream: RunningServer
  dir: string
  config: string
  gp: GatewayProcess
}

/** Starts the backend (`handler`), writes `yaml(...)` and spawns the gateway with two workers. */
export async function startWorkersRig(name: string, handler: (req: IncomingMessage, res: ServerResponse) => void, yaml: (r: Pick<WorkersRig, 'pki' | 'upstream'>) => string): Promise<WorkersRig> {
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), handler })
  const dir = mkdtempSync(join(tmpdir(), `${name}-`))
  return { pki, upstream, dir, ...(await spawnWorkers(dir, yaml({ pki, upstream }))) }
}

/** Writes `text` as `dir`/gateway.yaml and spawns the gateway on it with two workers. */
export async function spawnWorkers(dir: string, text: string): Promise<Pick<WorkersRig, 'config' | 'gp'>> {
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, text)
  return { config, gp: await spawnGateway(config, ['--workers', '2']) }
}

/** Stops what startWorkersRig started (nothing when it did not start). */
export async function stopWorkersRig(rig: WorkersRig | undefined): Promise<void> {
  if (!rig) return
  await rig.gp.stop()
  await rig.upstream.close()
  rig.pki.cleanup()
  rmSync(rig.dir, { recursive: true, force: true })
}

/** A request that shows the reloaded config (`call(tag)` sends X-Request-Id `tag`) and whether its answer does. */
export interface ReloadEffect<T> {
  call: (tag: string) => Promise<T>
  shows: (answer: T) => boolean
}

/**
 * Writes `text` as the config, sends SIGHUP and waits until both workers run it: with `effect`, until
 * each gave an answer that shows it; without, until each logged `config reloaded`. Those lines prove
 * it on a process's first reload only: one write can make two reloads (SIGHUP and the directory
 * watcher), so on a later one a line may be the previous write's second reload.
 */
export async function reloadWorkers<T>(rig: Pick<WorkersRig, 'config' | 'gp'>, text: string, effect?: ReloadEffect<T>): Promise<void> {
  const from = rig.gp.output.length
  if (!effect && rig.gp.logEntries().some((e) => e.msg === 'config reloaded')) throw new Error('this process reloaded before: pass reloadWorkers the effect to wait for')
  writeFileSync(rig.config, text)
  rig.gp.child.kill('SIGHUP')
  if (effect) await answeredBy(rig.gp, childPids(rig.gp.child.pid as number), effect.call, effect.shows, 'the reloaded config')
  else await eventually(() => new Set(rig.gp.logEntries(from).filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
}
