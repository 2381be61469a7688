/** The listeners' part of the validated config (types.ts): addresses, TLS, client limits and the main listener's ways in. */

export interface ListenTlsConfig {
  cert: string
  key: string
  keyPassphrase?: string
  clientCa?: string
  requireClientCert: boolean
}

/** The admin listener's TLS: a listener's, plus who may use the console by certificate alone. */
export interface AdminTlsConfig extends ListenTlsConfig {
  /** Subject CNs of verified client certificates that may use the console without the token. */
  clientSubjects: string[]
  /** DNS, URI or IP subjectAltNames, likewise. */
  clientSans: string[]
}

/** The admin listener's timeouts: the client ones plus the TLS handshake. */
export interface AdminTimeoutsConfig extends ClientTimeoutsConfig {
  tlsHandshakeMs: number
}

/** Timeouts on a listener's clients, in ms (0: off). */
export interface ClientTimeoutsConfig {
  headersMs: number
  bodyIdleMs: number
  bufferedBodyMs: number
  keepAliveMs: number
}

/** The main listener's timeouts: the client ones plus TLS handshake, send idle and CONNECT tunnel idle. */
export interface ListenTimeoutsConfig extends ClientTimeoutsConfig {
  tlsHandshakeMs: number
  sendIdleMs: number
  tunnelIdleMs: number
}

/** Concurrent connection caps of one listener (perAddress 0: none). */
export interface ConnectionLimitsConfig {
  max: number
  perAddress: number
}

export interface ListenConfig {
  host: string
  port: number
  timeouts: ClientTimeoutsConfig
  connections: ConnectionLimitsConfig
}

/** A way into the main listener (README "Ways in"): absolute-form, CONNECT, `/proxy/…`, `/gateway/…`. */
/** Every way in, in the order the docs name them (listen.waysIn's default: all). */
export const WAYS_IN = ['forward', 'connect', 'route', 'api'] as const
export type WayIn = (typeof WAYS_IN)[number]

export interface MainListenConfig extends ListenConfig {
  timeouts: ListenTimeoutsConfig
  /** The ways in this listener serves (listen.waysIn; reloadable). */
  waysIn: readonly WayIn[]
  publicUrl?: string
  tls?: ListenTlsConfig
}
