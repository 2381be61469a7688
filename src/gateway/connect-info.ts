/** What an upstream's onConnect hears of each dial: timing, TLS facts, and the server root its chain reached. */
import type { X509Certificate } from 'node:crypto'
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { serverAnchor } from '../tls/index.js'

/** One dial as onConnect reports it (metrics, the access log's upstream facts). */
export interface ConnectInfo {
  endpoint: string
  /** The tenant whose own bundle dialled (not a metric label). */
  tenant?: string | undefined
  handshakeMs: number
  resumed: boolean
  protocol: string | null
  remoteAddress: string | undefined
  /** The configured server root that anchored this connection's verified chain (with `roots` only). */
  anchor?: X509Certificate | undefined
  error?: unknown
}

/** The report of one dial: `tls` is the connected socket (undefined when it failed with `err`); the anchor is looked up once per new connection. */
export function connectInfo(o: { endpoint: string; tenant?: string | undefined; roots?: readonly X509Certificate[] | undefined }, handshakeMs: number, tls: TLSSocket | undefined, raw: Socket | undefined, err: Error | null): ConnectInfo {
  return {
    endpoint: o.endpoint,
    tenant: o.tenant,
    handshakeMs,
    resumed: tls !== undefined && tls.isSessionReused(),
    protocol: tls ? tls.getProtocol() : null,
    remoteAddress: raw?.remoteAddress,
    anchor: tls && o.roots ? serverAnchor(tls, o.roots) : undefined,
    ...(err ? { error: err } : {}),
  }
}
