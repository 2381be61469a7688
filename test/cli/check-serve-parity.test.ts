/**
 * `check` and `serve` agree (README, `check`): a valid config that uses every file a start reads
 * (endpoint bundles, a TLS Secret folder, listener and admin TLS, interception CA, OTLP exporter
 * TLS, a `${file:}` secret, the SQLite store or the Redis store's TLS), with faults in one or
 * two of those files, passes `check` exactly when a start succeeds. The start is the one `serve`
 * runs (startGateway with ops and the admin listener), in this process so that every fault of
 * every file is tried; the real `serve` process is checked to agree on the base config and on a
 * refused store. A port another process holds is the one exception, by design: `check` binds
 * nothing (the gateway being checked usually holds its own ports), and a start fails to bind.
 * The config's own listeners on one port (listen.port = admin.port on overlapping addresses)
 * are no exception: `check` once passed them and every start stopped on address already in use.
 */
import { lookup } from 'node:dns/promises'
import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { hostsOverlap } from '../../src/config/index.js'
import { startGateway } from '../../src/cli/gateway-root.js'
import { describeError } from '../../src/cli/options.js'
import { createLog, createOps } from '../../src/ops/index.js'
import { faultsOf, faultyPath, mustBeRefused, prepareParityPki, writeParityConfig, PARITY_TARGETS, type ParityConfigOptions, type ParityFault, type ParityTarget } from '../support/parity-config.js'
import { useSpawnedGateways } from '../support/spawned-gateways.js'

const gateways = useSpawnedGateways()
const TARGETS = Object.keys(PARITY_TARGETS) as ParityTarget[]
type Verdict = { started: boolean; output: string }

let run = 0
beforeAll(() => prepareParityPki(gateways.pki))

function freshDir(): string {
  const dir = join(gateways.pki.dir, `run-${++run}`)
  mkdirSync(dir)
  return dir
}

/** The base config with `chosen` faults, in a fresh folder. */
function faultyConfig(chosen: readonly (readonly [ParityTarget, ParityFault])[], o: ParityConfigOptions = {}): string {
  const dir = freshDir()
  const paths = Object.fromEntries(chosen.map(([t, f]) => [t, faultyPath(gateways.pki, dir, t, f)]))
  return writeParityConfig(gateways.pki, dir, { ...o, paths })
}

/** Whether `serve` (dist, a process) starts on the file: it printed its listening line, or it exited. */
async function serveStarts(file: string): Promise<Verdict> {
  try {
    const gp = await gateways.spawn(file)
    await gp.stop('SIGKILL')
    return { started: true, output: gp.output.join('\n') }
  } catch (e) {
    // Only an exit is a refusal; anything else (a stale dist/, a start past the deadline) fails the test.
    if (!(e instanceof Error && e.message.startsWith('gateway exited with'))) throw e
    return { started: false, output: e.message }
  }
}

/** The start `serve` makes, in this process (quiet log, no signals, no file watching). */
async function startsInProcess(file: string): Promise<Verdict> {
  const ops = createOps({ log: createLog({ destination: { write: () => undefined } }), watch: false, signals: false })
  try {
    const gw = await startGateway({ configFile: file, ops })
    await gw.close()
    return { started: true, output: 'listening' }
  } catch (e) {
    // `serve` prints any start failure and exits 1.
    return { started: false, output: describeError(e) }
  }
}

/**
 * Asserts `check`'s verdict on the base config with `chosen` faults is whether the start
 * succeeds; and that both refuse a fault that mustBeRefused, the start naming its key in `check`'s words.
 */
async function expectSameVerdict(chosen: readonly (readonly [ParityTarget, ParityFault])[], o: ParityConfigOptions = {}): Promise<void> {
  const file = faultyConfig(chosen, o)
  const check = runCheck(file)
  const start = await startsInProcess(file)
  const why = `check:\n${check.output}\nstart:\n${start.output}`
  expect({ chosen, check: check.ok }, why).toEqual({ chosen, check: start.started })
  const refused = chosen.filter(([t, f]) => mustBeRefused(t, f))
  if (refused.length === 0) return
  expect({ chosen, started: start.started }, why).toEqual({ chosen, started: false })
  // The start stops on the first thing it finds; the problem lines it prints are check's.
  for (const line of start.output.split('\n')) expect(check.output.split('\n'), why).toContain(line)
  // The key named: the faulty one, or for a certificate its key's, which no longer matches it.
  const target = refused[0]?.[0] ?? ''
  if (chosen.length === 1) expect([target, target.replace(/cert$/, 'key')].some((k) => start.output.includes(`: ${k}: `)), why).toBe(true)
}

describe('check and serve give the same verdict', () => {
  it('the real serve agrees: the base config starts, a SQLite store under a regular file does not', async () => {
    const base = faultyConfig([])
    expect(runCheck(base).output).toMatch(/is ok: 2 endpoint/)
    expect((await serveStarts(base)).started).toBe(true)
    const bad = faultyConfig([['store.file', 'under_file']])
    expect(runCheck(bad).output).toMatch(/store\.file: sqlite store "\S+": cannot open: folder \S+ cannot be created: \S+plain-file is not a folder\n/)
    const serve = await serveStarts(bad)
    expect(serve.started).toBe(false)
    expect(serve.output).toMatch(/cannot open: folder \S+ cannot be created: \S+plain-file is not a folder/)
  }, 120_000)

  it('the base config with the Redis store passes check and starts (Redis is reached in the background)', async () => {
    const file = faultyConfig([], { store: 'redis' })
    expect(runCheck(file).ok).toBe(true)
    expect((await startsInProcess(file)).started).toBe(true)
  })

  it('each fault of each file reference alone: check fails exactly when the start does', async () => {
    for (const target of TARGETS) for (const fault of faultsOf(target)) await expectSameVerdict([[target, fault]])
  }, 120_000)

  it('property: faults in two file references at once, the same agreement', async () => {
    const fault = fc.constantFrom(...TARGETS).chain((target) => fc.constantFrom(...faultsOf(target)).map((f) => [target, f] as const))
    const faults = fc.uniqueArray(fault, { minLength: 2, maxLength: 2, selector: ([t]) => t })
    await fc.assert(fc.asyncProperty(faults, (chosen) => expectSameVerdict(chosen)), { seed: 30_2026, numRuns: 40 })
  }, 120_000)

  describe('a port another process holds', () => {
    let holder: Server
    beforeAll(async () => {
      holder = createServer()
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    })
    afterAll(() => new Promise((resolve) => holder.close(resolve)))

    it('passes check (it binds nothing) and stops the start, for the listener and the admin listener', async () => {
      const port = (holder.address() as { port: number }).port
      for (const ports of [{ listen: port, admin: 0 }, { listen: 0, admin: port }]) {
        const file = faultyConfig([], { ports })
        expect(runCheck(file).ok).toBe(true)
        const start = await startsInProcess(file)
        expect(start.started).toBe(false)
        expect(start.output).toContain(`cannot listen on 127.0.0.1:${port}: address already in use`)
      }
    })
  })

  describe('listen and admin on one port', () => {
    /**
     * Whether a second server on `b` fails to bind the port a first one holds on `a`. A port free on
     * `a` may be held on `b` by another process of the suite (ports are per address): a refusal counts
     * only when `b` alone can then take the port; otherwise it is tried again on another port.
     */
    async function secondBindFails(a: string, b: string): Promise<boolean> {
      const listen = (host: string, port: number): Promise<Server | undefined> =>
        new Promise((resolve) => {
          const s = createServer()
          s.once('error', () => resolve(undefined))
          s.listen(port, host, () => resolve(s))
        })
      const close = (...servers: (Server | undefined)[]): Promise<unknown> => Promise.all(servers.map((s) => s && new Promise((resolve) => s.close(resolve))))
      for (let attempt = 0; attempt < 10; attempt++) {
        const first = await listen(a, 0)
        if (first === undefined) throw new Error(`cannot listen on ${a}`)
        const port = (first.address() as { port: number }).port
        const second = await listen(b, port)
        await close(first, second)
        if (second !== undefined) return false
        const alone = await listen(b, port)
        await close(alone)
        if (alone !== undefined) return true
      }
      throw new Error(`every port free on ${a} was held on ${b} by another process`)
    }

    it('property (seeded): hostsOverlap is the kernel\'s answer for address literals and for localhost (as this machine resolves it, 127.0.0.1 or ::1)', async () => {
      const hosts = ['127.0.0.1', '0.0.0.0', '::', '::1', '127.0.0.2', '::ffff:127.0.0.1', '[::1]', 'localhost', 'LOCALHOST']
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...hosts), fc.constantFrom(...hosts), async (a, b) => {
          const clash = await secondBindFails(a.replace(/^\[(.*)\]$/, '$1'), b.replace(/^\[(.*)\]$/, '$1'))
          expect({ a, b, clash: hostsOverlap(a, b) }).toEqual({ a, b, clash })
        }),
        { seed: 32_2026, numRuns: 64 },
      )
    })

    it('check refuses it at admin.port, as the start stops on it; on 0 (a free port each) both pass', async () => {
      const free = createServer()
      await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
      const port = (free.address() as { port: number }).port
      await new Promise((resolve) => free.close(resolve))
      const file = faultyConfig([], { ports: { listen: port, admin: port } })
      const check = runCheck(file)
      expect(check.ok).toBe(false)
      expect(check.output).toContain(`${file}:7:9: admin.port: ${port} is listen.port too, on an address that overlaps (listen.host 127.0.0.1, admin.host 127.0.0.1): the second listener cannot bind it (address already in use) and serve stops at start; give admin.port another port\n`)
      const start = await startsInProcess(file)
      expect(start).toEqual({ started: false, output: expect.stringContaining(`:${port}: address already in use`) })
      // localhost against an address it resolves to (this machine's /etc/hosts: 127.0.0.1 or ::1).
      const local = (await lookup('localhost')).address
      const named = faultyConfig([], { ports: { listen: port, admin: port }, hosts: { listen: 'localhost', admin: local } })
      expect(runCheck(named).output).toMatch(new RegExp(`${named}:\\d+:\\d+: admin\\.port: ${port} is listen\\.port too, on an address that overlaps \\(listen\\.host localhost, admin\\.host ${local.replaceAll('.', '\\.')}\\): `))
      expect(await startsInProcess(named)).toEqual({ started: false, output: expect.stringContaining(`:${port}: address already in use`) })
      const zero = faultyConfig([], { ports: { listen: 0, admin: 0 } })
      expect(runCheck(zero).ok).toBe(true)
    })
  })
})
