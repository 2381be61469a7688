import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { GatewayError } from '../errors.js'
import type { CompileOptions } from '../gateway/index.js'
import type { AuthFailure } from '../callers/index.js'
import type { RedisConnectWarning, ResealedKind } from '../store/index.js'

/** The one observer of a gateway process (metrics and logs); every hook is optional. */
export interface Observer {
  onConnect?: CompileOptions['onConnect']
  onEgressRefusal?: CompileOptions['onEgressRefusal']
  onPoolEvicted?: CompileOptions['onPoolEvicted']
  onMint?: (host: string, ms: number) => void
  onTunnel?: (kind: 'intercepted' | 'pass_through' | 'refused') => void
  onAuthFailure?: (label: AuthFailure) => void
  onSignature?: (profile: string, method: string) => void
  /** The store connected to a Redis that may evict the gateway's keys, or whose ACL refuses a command it uses. */
  onStoreWarning?: (warning: RedisConnectWarning) => void
  /** A record read under a seal key no longer active was sealed again under the active one. */
  onRecordResealed?: (kind: ResealedKind) => void
  /** Client timeouts, refused connections and parse errors on the listeners (proxy/connection-guard). */
  connections?: {
    onTimeout?(listener: string, reason: string): void
    onRefused?(listener: string, reason: string): void
    onRejected?(listener: string, err: GatewayError, connection: Duplex, req?: IncomingMessage): void
  }
}
