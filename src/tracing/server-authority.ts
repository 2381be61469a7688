/**
 * The `server.address` and `server.port` of an HTTP client span (OpenTelemetry HTTP conventions:
 * the host and port of the URL's origin, the port always given, a scheme's default included).
 */

/** Where an upstream call goes, as a client span names it. */
export interface ServerAuthority {
  /** The URL's host as WHATWG serialises it, an IPv6 address without its brackets (`::1`, as the conventions write an IP address). */
  readonly address: string
  /** Undefined only for a scheme without a default port given none. */
  readonly port: number | undefined
}

// WHATWG URL drops a special scheme's default port (`port` is ''): the scheme says which it was.
const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 }

/** The server a parsed URL names (parsed once per endpoint origin, not per request). */
export function serverAuthority(url: Pick<URL, 'protocol' | 'hostname' | 'port'>): ServerAuthority {
  return { address: unbracketed(url.hostname), port: url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port) }
}

/** A WHATWG hostname without the brackets of an IPv6 literal (no other host starts with `[`). */
function unbracketed(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname
}

/** A host as a span name shows it: an IPv6 address in brackets, so a name is never read as host:port. */
export function hostInName(host: string): string {
  return host.includes(':') ? `[${host}]` : host
}
