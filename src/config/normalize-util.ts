/** Small readers over schema-valid raw YAML values, shared by the normalisers. */
import { isIPv6 } from 'node:net'

export type Raw = Record<string, unknown>
/** Reports a problem at a key path relative to the section being normalised. */
export type Report = (path: (string | number)[], msg: string) => void

export const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' ? (v as Raw) : {})
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
export const list = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.map(String) : [])

/**
 * A host as CONNECT and forward-proxy targets are matched: lower case, an IPv6 literal in WHATWG
 * URL's canonical spelling (`[0:0::1]:8443` → `[::1]:8443`; bare `0:0::1` → `::1`), so a
 * configured address matches every spelling of itself and nothing else.
 */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase()
  const m = /^\[([^\]]*)\](:\d+)?$/.exec(lower)
  const literal = m ? (m[1] as string) : lower
  if (isIPv6(literal) && !literal.includes('%')) {
    const canonical = new URL(`http://[${literal}]/`).hostname
    return m ? `${canonical}${m[2] ?? ''}` : canonical.slice(1, -1)
  }
  return lower
}

/**
 * The name a host (or `host:port`) is matched by: one trailing dot dropped (`api.partner.test.` is the fully
 * qualified spelling of `api.partner.test`, as nginx, Envoy and mitmproxy match it). Only one,
 * and only after a character that is not a dot: `host..` and `.` keep theirs and match nothing.
 * Matching only: what is dialled is the configured host as written.
 */
export function matchName(host: string): string {
  // A port may follow (`host.:8443`, a `hosts` entry); an IPv6 literal (a `:` or brackets) is left alone.
  return host.replace(/^([^[\]:]*[^.[\]:])\.(?=(:[0-9]+)?$)/, '$1')
}
