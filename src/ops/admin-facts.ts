/**
 * What the process serving the admin listener knows about the whole instance, for
 * routes mounted there (the console): reload state, draining, workers, metrics
 * aggregated like /metrics, and each endpoint's last handshake. One process answers
 * (the single process, or the cluster primary asking its workers).
 */
import type { Server } from 'node:http'
import type { Logger } from 'pino'
import type { AdminRoutes, Readiness } from './admin.js'
import type { ReloadResult } from './reload.js'
import type { WorkerMetrics } from './worker-link.js'
import { listenerUrl } from '../proxy/bind-listener.js'
import type { ConsoleRefusal } from './label-sets.js'
import type { ResealedKind } from '../store/index.js'

/** The last reload: when, why, and how it went. */
export interface ReloadRecord {
  at: number
  trigger: string
  result: ReloadResult
}

/** What one endpoint's last upstream connection negotiated, and its last handshake failure. */
export interface EndpointHandshake {
  last?: { at: number; protocol: string | null; resumed: boolean }
  lastFailure?: { at: number; reason: string }
}

/** Endpoint name → its last handshake facts. */
export type HandshakeFacts = Record<string, EndpointHandshake>

/** The instance as the admin process sees it. */
export interface AdminFacts {
  readonly log: Logger
  /** Worker processes (1 without a cluster). */
  readonly workers: number
  /** `scheme://host:port` of the main listener, once it listens. */
  gatewayUrl(): string | undefined
  /** Unix ms the config in force was loaded (the primary: its own last load). */
  loadedAt(): number
  lastReload(): ReloadRecord | undefined
  draining(): boolean
  reload(trigger: string): Promise<ReloadResult>
  readiness(): Promise<Readiness>
  /** prom-client JSON, summed over workers like /metrics. */
  metrics(): Promise<WorkerMetrics>
  handshakes(): Promise<HandshakeFacts>
  /** Counts a console refusal before sign-in (console_refusals_total), whether or not its line is written. */
  consoleRefusal(reason: ConsoleRefusal): void
  /** Counts a record sealed again under the active seal key (store_records_resealed_total): the console's session key carried over. */
  recordResealed(kind: ResealedKind): void
}

/** `scheme://host:port` a listening server is reached at (loopback for a wildcard bind). */
export function listeningUrl(server: Server): string | undefined {
  const a = server.address()
  if (a === null || typeof a === 'string') return undefined
  return listenerUrl(a, 'setSecureContext' in server)
}

/** Builds the routes to mount once the facts exist (the composition root's console; a promise while their modules load). */
export type AdminRoutesFactory = (facts: AdminFacts) => AdminRoutes | Promise<AdminRoutes>

/** Records each endpoint's last connection and handshake failure (in the process that dials). */
export interface HandshakeRecorder {
  connected(endpoint: string, protocol: string | null, resumed: boolean): void
  failed(endpoint: string, reason: string): void
  snapshot(): HandshakeFacts
}

/** A recorder over a map bounded by the configured endpoints (names come from the config). */
export function createHandshakeRecorder(now: () => number = Date.now): HandshakeRecorder {
  const facts = new Map<string, EndpointHandshake>()
  const entry = (endpoint: string): EndpointHandshake => {
    let e = facts.get(endpoint)
    if (!e) facts.set(endpoint, (e = {}))
    return e
  }
  return {
    connected: (endpoint, protocol, resumed) => void (entry(endpoint).last = { at: now(), protocol, resumed }),
    failed: (endpoint, reason) => void (entry(endpoint).lastFailure = { at: now(), reason }),
    snapshot: () => Object.fromEntries(facts),
  }
}

/** Merges workers' facts: per endpoint, the latest connection and the latest failure win. */
export function mergeHandshakes(all: readonly HandshakeFacts[]): HandshakeFacts {
  const out: HandshakeFacts = {}
  for (const facts of all) {
    for (const [name, f] of Object.entries(facts)) {
      const o = (out[name] ??= {})
      if (f.last && (!o.last || f.last.at > o.last.at)) o.last = f.last
      if (f.lastFailure && (!o.lastFailure || f.lastFailure.at > o.lastFailure.at)) o.lastFailure = f.lastFailure
    }
  }
  return out
}
