/**
 * The hooks the composition root hands the gateway (StartOptions.hooks in cli/gateway-root.ts):
 * metrics, and the store's connection warnings logged.
 */
import type { AuthFailure } from '../callers/index.js'
import type { ConnectInfo } from '../gateway/index.js'
import type { ConnectionEvents } from '../proxy/connection-guard.js'
import type { RedisConnectWarning, ResealedKind } from '../store/index.js'
import type { GatewayLog } from './log.js'
import type { Metrics } from './metrics.js'

const STORE_WARNINGS: Record<RedisConnectWarning['about'], string> = {
  memory_policy: "the store's Redis may evict the gateway's keys",
  permissions: "the store's Redis user may not run a command the gateway uses",
  server_changed: "the store's Redis is another server than before (restarted or failed over)",
  sentinel_refused: "a Sentinel refuses the store's failover watch: its failovers are followed late",
}

/** The composition root's observability hooks (StartOptions.hooks in cli/gateway-root.ts). */
export interface OpsHooks {
  onConnect(info: ConnectInfo): void
  onAuthFailure(label: AuthFailure): void
  onSignature(profile: string, method: string): void
  onEgressRefusal(reason: string): void
  /** An endpoint's upstream pool closed to make room for another origin (endpoints[].originPools). */
  onPoolEvicted(endpoint: string): void
  onTunnel(kind: 'intercepted' | 'pass_through' | 'refused'): void
  onMint(host: string, ms: number): void
  /** The store's Redis may evict the gateway's keys, or refuses a command it uses: a warning, at each (re)connect. */
  onStoreWarning(warning: RedisConnectWarning): void
  /** A record read under a retired seal key was sealed again under the active one (store_records_resealed_total). */
  onRecordResealed(kind: ResealedKind): void
  /** Listener limits: timeouts and refusals counted and logged at debug; admin parse errors logged. */
  connections: ConnectionEvents
}

/** The hooks the composition root hands the gateway: metrics, and the store's connection warnings logged. */
export function opsHooks(metrics: Metrics, log: GatewayLog, onConnect: OpsHooks['onConnect'], connections: ConnectionEvents): OpsHooks {
  return {
    onConnect,
    onAuthFailure: metrics.callerAuthFailure,
    onSignature: metrics.oauthSignature,
    onEgressRefusal: metrics.egressRefusal,
    onPoolEvicted: metrics.upstreamPoolEvicted,
    onTunnel: metrics.tunnel,
    onMint: (_host, ms) => metrics.leafMinted(ms),
    onStoreWarning: (w) => log.logger.warn({ problem: w.problem }, STORE_WARNINGS[w.about]),
    onRecordResealed: metrics.recordResealed,
    connections,
  }
}
