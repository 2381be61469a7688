/**
 * One gateway, however it runs. The suites that protect callers and users run against each
 * topology: the gateway in this process (SQLite), `serve --workers 2` on one SQLite file
 * (the cluster hands each new connection to the next worker), and two `serve` processes
 * on one Redis with requests alternating between them. Each request of `send` is a new
 * connection, so consecutive requests land on different workers or replicas.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import type { RunningGateway } from '../../src/cli/gateway-root.js'
import { openStore, type Store } from '../../src/store/index.js'
import { startTestGateway } from './gateway.js'
import { spawnGateway, type GatewayProcess } from './process.js'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from './store-backends.js'

export type TopologyKind = 'in-process' | 'workers' | 'replicas'

/** Every topology, for describe.each. */
export const TOPOLOGIES: readonly TopologyKind[] = ['in-process', 'workers', 'replicas']

/** Where the gateway keeps its state. */
export type StoreLocation = { kind: 'sqlite'; file: string } | { kind: 'redis'; url: string; keyPrefix: string }

export interface Topology {
  readonly kind: TopologyKind
  /** The URL for the next request: A, B, A, … for replicas; the one port of the workers. */
  url(): string
  /** Every process's URL (one for in-process and workers). */
  readonly urls: readonly string[]
  /** The gateway's store, opened from this process (same SQLite file or Redis prefix). */
  readonly store: Store
  close(): Promise<void>
}

/** The store a topology uses: one SQLite file for one host, Redis for replicas. */
function storeFor(kind: TopologyKind, dir: string): StoreLocation {
  return kind === 'replicas' ? { kind: 'redis', url: REDIS_URL, keyPrefix: uniqueRedisPrefix() } : { kind: 'sqlite', file: join(dir, 'state.db') }
}

/**
 * Starts the gateway of `yamlFor(store)` as `kind`. The YAML must listen on 127.0.0.1 port 0
 * and disable the admin listener (replicas run side by side).
 */
export async function startTopology(kind: TopologyKind, dir: string, yamlFor: (store: StoreLocation) => string): Promise<Topology> {
  const location = storeFor(kind, dir)
  const yaml = yamlFor(location)
  let inProcess: RunningGateway | undefined
  const procs: GatewayProcess[] = []
  const close = async (): Promise<void> => {
    await inProcess?.close()
    await Promise.all(procs.map((p) => p.stop('SIGTERM')))
    if (location.kind === 'redis') await wipeRedisPrefix(location.keyPrefix)
  }
  try {
    if (kind === 'in-process') {
      inProcess = await startTestGateway(dir, yaml)
    } else {
      const file = join(dir, 'gateway.yaml')
      writeFileSync(file, yaml)
      if (kind === 'workers') procs.push(await spawnGateway(file, ['--workers', '2']))
      else procs.push(...(await Promise.all([spawnGateway(file), spawnGateway(file)])))
    }
  } catch (e) {
    await close()
    throw e
  }
  const urls = inProcess ? [inProcess.url] : procs.map((p) => p.url)
  const store = openStore(location.kind === 'sqlite' ? { kind: 'sqlite', file: location.file } : location)
  let next = 0
  return {
    kind,
    urls,
    url: () => urls[next++ % urls.length] as string,
    store,
    close: async () => {
      await store.close()
      await close()
    },
  }
}

/** The store part of a gateway YAML for `location`, with seal keys. */
export function storeYaml(location: StoreLocation, sealKeys: readonly { id: string; key: string }[]): string {
  const keys = sealKeys.map((k) => `{ id: ${k.id}, key: "${k.key}" }`).join(', ')
  const where = location.kind === 'sqlite' ? `kind: sqlite, file: ${location.file}` : `kind: redis, url: "${location.url}", keyPrefix: "${location.keyPrefix}"`
  return `store: { ${where}${sealKeys.length > 0 ? `, sealKeys: [${keys}]` : ''} }\n`
}

/** What a suite inside describe.each(TOPOLOGIES) uses. */
export interface SuiteTopology {
  /** Each read of `url` is the next request's gateway (replicas alternate). */
  readonly gw: { readonly url: string }
  topo(): Topology
  /** The suite's own temporary directory (config, SQLite file). */
  dir(): string
}

/** Starts `kind` before the suite's tests (in a fresh directory) and stops it after them. */
export function useTopology(kind: TopologyKind, name: string, yamlFor: (store: StoreLocation, dir: string) => string): SuiteTopology {
  let topo: Topology | undefined
  let dir = ''
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${name}-${kind}-`))
    topo = await startTopology(kind, dir, (store) => yamlFor(store, dir))
  }) // vitest.config.ts's hookTimeout, above START_DEADLINE_MS: two replicas start at once
  afterAll(async () => {
    await topo?.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const current = (): Topology => {
    if (!topo) throw new Error(`topology ${kind} did not start`)
    return topo
  }
  return { gw: { get url() { return current().url() } }, topo: current, dir: () => dir }
}
