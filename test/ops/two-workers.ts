/**
 * The set-up the `--workers` tests share: a test PKI, a real mTLS backend named `partner`, the
 * config that routes to it, and `serve --workers 2` on that config. Each hook is registered where
 * the fixture is called (the file, or one describe); teardown stops only what it started: the
 * instance it spawned (SIGKILL to that primary), the backend, the PKI.
 */
import { afterAll, beforeAll } from 'vitest'
import { join } from 'node:path'
import { endpointYaml, send, type Reply } from '../support/gateway.js'
import { clientTls, createTestPki, type ClientTls, type TestPki } from '../support/pki.js'
import { adminUrlOf, type GatewayProcess } from '../support/process.js'
import { startMtlsServer, type RunningServer, type MtlsServerOptions } from '../support/tls-server.js'
import { atDescriptorLimit, callersAtStore, childPids, eventually, replaceFile, spawnTwoWorkers } from './helpers.js'

/** A primary and two workers starting on a loaded 2-core machine. */
const START_MS = 120_000

export interface TwoWorkersOptions {
  /** The `admin:` value (default `{ port: 0 }`). */
  admin?: string
  /** YAML lines between `admin:` and `endpoints:`, each ending in a newline (`drain: { grace: 60s }\n`). */
  before?: string
  /** Lines of the `partner` endpoint before its `tls:` (endpointYaml's `extra`). */
  fields?: string
  /** The backend's request handler (default: echo). */
  handler?: MtlsServerOptions['handler']
  /** Runs once the PKI exists, before the backend and the instance start (files the config names). */
  prepare?: (pki: TestPki) => void | Promise<void>
  /** `file` (default): one instance for the file's tests; `none`: no instance here (see `ownInstance`). */
  spawn?: 'file' | 'none'
  /** Runs before the file's instance is stopped (e.g. to release held requests). */
  beforeStop?: () => void | Promise<void>
}

export interface TwoWorkers {
  readonly pki: TestPki
  readonly upstream: RunningServer
  /** The endpoint `tls` block of the test PKI. */
  readonly tls: ClientTls
  /** The config text the instance starts from. */
  readonly yaml: string
  /** `<pki.dir>/gateway.yaml`. */
  readonly config: string
  readonly gp: GatewayProcess
  /** The primary's admin URL. */
  readonly admin: string
  /** The enclosing describe's own instance, started before its tests and stopped (SIGKILL) after them. */
  ownInstance(beforeStop?: () => void | Promise<void>): void
}

/** Registers the hooks of a `--workers 2` test and returns what they start (read it inside tests and hooks). */
export function useTwoWorkers(options: TwoWorkersOptions = {}): TwoWorkers {
  let pki: TestPki | undefined
  let upstream: RunningServer | undefined
  let yaml: string | undefined
  let run: { gp: GatewayProcess; config: string; admin: string } | undefined
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the --workers fixture has not started ${what}`)
    return value
  }
  const spawn = async (): Promise<void> => {
    const { gp, config } = await spawnTwoWorkers(started(pki, 'a PKI').dir, started(yaml, 'a config'))
    run = { gp, config, admin: '' }
    run.admin = await adminUrlOf(gp)
  }
  const stop = async (beforeStop?: () => void | Promise<void>): Promise<void> => {
    await beforeStop?.()
    await run?.gp.stop('SIGKILL')
    run = undefined
  }
  beforeAll(async () => {
    pki = await createTestPki()
    await options.prepare?.(pki)
    upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'), ...(options.handler ? { handler: options.handler } : {}) })
    yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: ${options.admin ?? '{ port: 0 }'}\n${options.before ?? ''}endpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki), options.fields)}`
    if (options.spawn !== 'none') await spawn()
  }, START_MS)
  afterAll(async () => {
    if (options.spawn !== 'none') await stop(options.beforeStop)
    await upstream?.close()
    pki?.cleanup()
  })
  return {
    get pki() { return started(pki, 'a PKI') },
    get upstream() { return started(upstream, 'the backend') },
    get tls() { return clientTls(started(pki, 'a PKI')) },
    get yaml() { return started(yaml, 'a config') },
    get config() { return started(run, 'an instance').config },
    get gp() { return started(run, 'an instance').gp },
    get admin() { return started(run, 'an instance').admin },
    ownInstance(beforeStop) {
      beforeAll(spawn, START_MS)
      afterAll(() => stop(beforeStop))
    },
  }
}

/** A worker left on a config the instance did not accept, draining while it holds requests. */
export interface HeldLeaver {
  primary: number
  /** The worker that refused the reload (it stays). */
  refuser: number
  /** The worker that built it and could not go back: drained. */
  leaver: number
  /** Two held requests on each worker, from the start. */
  slow: Promise<Reply>[]
  /** Output line before the reload. */
  from: number
}

/**
 * Holds two requests on each worker (the primary hands connections round-robin; `held()` counts
 * what the backend holds), then reloads to a config with caller apps, which needs the store: the
 * first worker, at its descriptor limit, cannot open it and refuses; the second opens it and cannot
 * go back (README), so the primary drains it while it holds its two requests.
 */
export async function leaverHoldingRequests(w: TwoWorkers, held: () => number): Promise<HeldLeaver> {
  const { gp, config, yaml, pki } = w
  const primary = gp.child.pid as number
  const [refuser, leaver] = childPids(primary) as [number, number]
  const slow = [1, 2, 3, 4].map((i) => send(gp.url, `/proxy/partner/slow-${i}`))
  await eventually(() => held() === 4, 30_000, 'the upstream to hold 4 requests')
  const from = gp.output.length
  await atDescriptorLimit(refuser, async () => {
    replaceFile(config, callersAtStore(join(pki.dir, 'store.db')) + yaml)
    const left = await eventually(() => gp.logEntries(from).find((e) => e.pid === primary && e.msg === 'worker left on a config the instance did not accept: draining and replacing it'), 30_000, 'the leaver to be drained')
    if (left.worker !== leaver) throw new Error(`worker ${String(left.worker)} was drained, not ${leaver}`)
  })
  return { primary, refuser, leaver, slow, from }
}
