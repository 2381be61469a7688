/**
 * The validated, normalised config: defaults filled, durations in ms, sizes in bytes,
 * paths absolute, references resolved. Frozen after load.
 */
import type { FieldConfig, ProfileConfig } from './types-profiles.js'
import type { AdminHostsConfig } from './admin-hosts.js'
import type { AdminTimeoutsConfig, AdminTlsConfig, ListenConfig, MainListenConfig } from './types-listeners.js'

export type { FieldConfig, FieldType, OAuthPlacement, ProfileConfig, SignatureMethod, TokenMode } from './types-profiles.js'
export type * from './types-listeners.js'
export { WAYS_IN } from './types-listeners.js'

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3'

export interface EndpointTlsConfig {
  cert?: string
  key?: string
  keyPassphrase?: string
  intermediates: string[]
  pkcs12?: string
  pkcs12Passphrase?: string
  dir?: string
  roots: string[]
  clientRoots: string[]
  systemRoots: boolean
  serverName?: string
  minVersion: TlsVersion
  maxVersion?: TlsVersion
  pins: string[]
  crl: string[]
}

export interface EndpointTimeoutsConfig {
  connectMs: number
  responseMs: number
  idleMs: number
  keepAliveMs: number
}

export interface EndpointConfig {
  name: string
  /** Index in the endpoints list, for error messages. */
  index: number
  url: string
  hosts: string[]
  pathPrefix?: string
  resolve?: string
  allowPrivate: boolean
  tls: EndpointTlsConfig
  timeouts: EndpointTimeoutsConfig
  connections: number
  /** Most origins (one per tenant when `{tenant}` is in the host) this endpoint keeps a pool for, per process. */
  originPools: number
  via?: { url: string; username?: string; password?: string }
  profile?: string
  fields: FieldConfig[]
  tenantHeader: string
  /** Per-tenant client bundles. */
  tenants: Record<string, EndpointTlsConfig>
}

/** A `host:port` of a Sentinel or Cluster node. */
export interface HostPort {
  host: string
  port: number
}

/** `store.redis`: TLS (paths), credentials, topology and the write acknowledgement. */
export interface RedisSettings {
  username?: string
  password?: string
  tls?: { ca?: string; cert?: string; key?: string; keyPassphrase?: string; serverName?: string }
  sentinel?: { addresses: HostPort[]; primaryName: string; username?: string; password?: string; db: number }
  cluster?: { nodes: HostPort[] }
  replicasToAcknowledge: number
  acknowledgeTimeoutMs: number
  commandTimeoutMs: number
  connectTimeoutMs: number
  /** /readyz fails while Redis is unreachable (default false: reported under notes). */
  gateReadiness: boolean
}

export interface StoreSettings {
  kind: 'sqlite' | 'redis'
  file: string
  url?: string
  keyPrefix: string
  redis: RedisSettings
  sealKeys: { id: string; key: string }[]
  activeKey?: string
}

export interface CallerAppSettings {
  clientId: string
  /** Whose users its `sub` names: apps with the same user space share users and their tokens (default: clientId). */
  userSpace: string
  hs256Secret?: string
  rs256PublicKey?: string
  audience: string
  endpoints: string[]
  allowRsa15Jwe: boolean
  clientCertificate?: { subject?: string; san?: string }
  /** The only tenants this app's calls may name (lower-case DNS labels); absent: any. */
  tenants?: string[]
  /** A claim of the caller's JWT/JWE that must name each call's tenant; absent: no claim rule. */
  tenantClaim?: string
  /** This app's ceiling on `exp − iat` of a JWT without `jti`, seconds (wins over callers.jwtMaxLifetimeSec). */
  jwtMaxLifetimeSec?: number
}

export interface CallersConfig {
  /** False when the config has no `callers` section: the gateway is open (trusted network only). */
  enabled: boolean
  required: boolean
  clockSkewSec: number
  bearerTtlSec: number
  /** Ceiling on `exp − iat` of a caller JWT without `jti`, seconds; absent: none. */
  jwtMaxLifetimeSec?: number
  anonymousTtlMs: number
  persistDecryptedClaims: boolean
  /** `<prefix>jti|iss|sub` win over `jti|iss|sub`; empty: aliases off. */
  claimAliasPrefix: string
  apps: CallerAppSettings[]
  /** Failed token exchanges allowed per source address in a minute; 0: not throttled. */
  failedExchangesPerMinute: number
  gatewayKeys: { kid: string; privateKey: string; passphrase?: string }[]
  adminToken?: string
}

export interface AdminConfig extends ListenConfig, AdminHostsConfig {
  timeouts: AdminTimeoutsConfig
  enabled: boolean
  tls?: AdminTlsConfig
  token?: string // the console's operator token; absent: the console is off
}

export interface InterceptionConfig {
  caCert: string
  caKey: string
  caKeyPassphrase?: string
  leafValidityMs: number
  cacheSize: number
  /** `connectTimeoutMs` 0: the operating system's own connect limit. */
  passThrough: { host: string; port: number; allowPrivate: boolean; connectTimeoutMs: number }[]
}

/** Spans and their export (issue: observability); `sampler` is reloadable, the rest restart-only. */
export interface TracingConfig {
  enabled: boolean
  serviceName: string
  sampler: { ratio: number; parentBased: boolean }
  otlp?: {
    endpoint: string
    protocol: 'http/protobuf' | 'grpc'
    headers: Record<string, string>
    timeoutMs: number
    tls: { ca?: string; cert?: string; key?: string }
  }
}

/** A value a `${env:}`/`${file:}` reference produced, and that reference's text. */
export interface ConfigReference {
  value: string
  reference: string
}

export interface GatewayConfig {
  /** Absolute path of the file this was loaded from. */
  file: string
  /** Every file the config references (for reload watching). */
  files: string[]
  /** Every secret value a `${env:}`/`${file:}` reference produced, for log redaction. */
  secrets: string[]
  /** Those values with the reference text that produced each: problems show the reference instead. */
  references?: ConfigReference[]
  listen: MainListenConfig
  admin: AdminConfig
  store: StoreSettings
  callers: CallersConfig
  interception?: InterceptionConfig
  /** Graceful shutdown: longest wait for in-flight requests after SIGTERM. */
  drain: { graceMs: number }
  /** Lines an unauthenticated client can cause: per listener and reason, `burst` per `intervalMs` (0: no cap). */
  logging: { callerFaults: { burst: number; intervalMs: number } }
  /** Bytes: one buffered body, and all of a process's buffered bodies at once (0: no total). */
  limits: { maxBufferedBody: number; maxBufferedTotal: number }
  forwarding: { xForwardedFor: boolean; via: boolean }
  endpoints: EndpointConfig[]
  profiles: ProfileConfig[]
  tracing: TracingConfig
}
