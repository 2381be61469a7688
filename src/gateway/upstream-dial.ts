/**
 * How an upstream pool's connector reaches one origin: the TCP leg (direct, egress-checked, or
 * through a connector's CONNECT) and the name, address and checks a dial uses, by origin.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net'
import { makeServerIdentityCheck } from '../tls/index.js'
import { checkLiteral } from './egress.js'
import { connectAuthority, openTunnel, proxyAddress, viaTimeout, type Tunnel } from './proxy-tunnel.js'
import type { UpstreamOptions } from './upstream.js'

/**
 * Opens the TCP leg, with the egress check on the address dialled: the endpoint's, or the
 * upstream proxy's when it goes through one (the proxy resolves the final name itself).
 */
export function dialRaw(o: UpstreamOptions, host: string, port: number, resolve: string | undefined): Socket | Tunnel {
  if (o.via) {
    const proxy = proxyAddress(o.via)
    if (isIP(proxy.host) !== 0 && o.egress) {
      const denied = checkLiteral(proxy.host, proxy.host, o.egress)
      if (denied) throw denied
    }
    return openTunnel(o.via, host, port, o.connectMs, o.lookup)
  }
  const target = resolve ?? host
  if (isIP(target) !== 0 && o.egress) {
    const denied = checkLiteral(host, target, o.egress)
    if (denied) throw denied
  }
  return netConnect({ host: target, port, ...(o.lookup && isIP(target) === 0 ? { lookup: o.lookup } : {}) })
}

/** The error of a dial past `timeouts.connect` (a CONNECT still under way fails as itself): through a connector, naming it and the tunnel's target. */
export function connectTimeout(o: UpstreamOptions, host: string, port: number): Error {
  if (o.via) return viaTimeout(o.via, connectAuthority(host, port), o.connectMs)
  return Object.assign(new Error(`connect timeout after ${o.connectMs} ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' })
}

/** How one dial reaches and checks its server: the endpoint's settings on its own origin, the dialled name's on any other. */
export interface DialSettings {
  name: string
  /** Sessions are kept per name, port and kind: one made at the endpoint's `resolve` address under its pins never resumes a by-name dial. */
  sessionKey: string
  resolve: string | undefined
  identityCheck: ReturnType<typeof makeServerIdentityCheck>
}

/** Picks the dial settings by origin (UpstreamOptions.origin): nothing configured for one origin reaches another. */
export function dialSettingsBy(o: UpstreamOptions): (hostname: string, port: number) => DialSettings {
  const own = makeServerIdentityCheck(o.pins)
  const foreign = makeServerIdentityCheck([])
  return (hostname, port) => (o.origin === undefined || o.origin(hostname, port)
    ? { name: o.serverName ?? hostname, sessionKey: `${o.serverName ?? hostname}:${port}`, resolve: o.resolve, identityCheck: own }
    : { name: hostname, sessionKey: `by-name ${hostname}:${port}`, resolve: undefined, identityCheck: foreign })
}
