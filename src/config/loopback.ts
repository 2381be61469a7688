/**
 * Which caller addresses are this machine's own. Without a callers section the gateway serves
 * only those (protected mode, as Redis does): anyone else who reached the port could make calls
 * with every endpoint's client certificate and credentials.
 */
import { BlockList, isIP } from 'node:net'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
const LOOPBACK_TEXT = /^(?:::ffff:)?127\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){2}$|^::1$/i

/** True for an address only this machine can use: 127.0.0.0/8 (IPv4-mapped too), ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  // The common answers without building a SocketAddress: this runs per request on an open gateway.
  if (LOOPBACK_TEXT.test(host)) return true
  const h = host.replace(/^\[(.*)\]$/, '$1')
  if (h.toLowerCase() === 'localhost') return true
  const v = isIP(h)
  return v !== 0 && LOOPBACK.check(h, v === 4 ? 'ipv4' : 'ipv6')
}

/** The refusal's text for a caller at `address` while no callers section is configured. */
export function protectedModeMessage(address: string | undefined): string {
  return `protected mode: this gateway has no callers section, so it serves only callers on its own machine (loopback), not ${address ?? 'an unknown address'}. Configure callers.apps, or write callers: { required: false } to admit every caller that reaches the listener (trusted networks only)`
}
