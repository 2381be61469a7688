/**
 * admin.allowedHosts: the host names the admin listener answers for besides IP literals and
 * `localhost` (DNS rebinding, ops/admin-host.ts). Its schema and its normal form live here, with
 * the one comparison both the config and a request's Host go through.
 */

/** Whom the admin listener answers (read per request, so a reload applies them). */
export interface AdminHostsConfig {
  allowedHosts: string[] // names served besides IP literals and localhost, as comparableHostName has them
  consoleOrigins: string[] // origins the console is published at through a proxy, as URL.origin has them
}

/** `name` as admin.allowedHosts compares it: lower case, without one trailing dot. */
export function comparableHostName(name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

/** The schema of admin.allowedHosts (part of schema.ts's single source). */
export const allowedHostsSchema = {
  type: 'array',
  items: { type: 'string', pattern: '^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\\.?$' },
  default: [],
  description: 'Host names (no port, no wildcard) the admin listener answers for besides its IP addresses and `localhost`, which are always served: an Ingress host or a Service name through which operators or scrapers reach it. A request whose `Host` names anything else gets `421` `admin_host_not_allowed` before any route runs, so a web page cannot read `/metrics` or `/readyz` through DNS rebinding. Compared without case or a trailing dot. Read per request: a reload applies it.',
} as const

/** admin.allowedHosts as validated, in the form a Host is compared in. */
export function allowedHostsOf(raw: unknown): string[] {
  return Array.isArray(raw) ? raw.map((h) => comparableHostName(String(h))) : []
}

/**
 * admin.consoleOrigins: the origins the console is published at through a TLS-terminating proxy
 * (an Ingress serving https://gw-admin.example.com in front of a plain-http admin listener). A
 * console POST whose Origin is one of them is the console's own, besides the origin the listener
 * serves directly. Configured, never derived from a client's X-Forwarded-Proto or -Host.
 */
const ORIGIN_PORT = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})'
export const consoleOriginsSchema = {
  type: 'array',
  items: { type: 'string', pattern: `^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*|\\[[0-9A-Fa-f:.]+\\])(:${ORIGIN_PORT})?/?$` },
  default: [],
  description: 'Origins (`scheme://host[:port]`, no path) the web console is published at besides the address the admin listener serves itself, e.g. `https://gw-admin.example.com` behind a TLS-terminating Ingress or reverse proxy in front of a plain-http admin listener. A console action (a POST) is accepted only from the console\'s own origin: the one the listener serves (its scheme, `Host`) or one listed here, compared exactly as a browser sends `Origin` (without case, without the scheme\'s default port). `X-Forwarded-Proto`/`-Host` are never trusted for this. The proxy\'s `Host` must still be served (`allowedHosts`). Read per request: a reload applies it.',
} as const

/** admin.consoleOrigins as validated, in the form a browser serialises an Origin (URL.origin); one that is no URL (`http://[1.2]`) is reported. */
export function consoleOriginsOf(raw: unknown, report: (path: (string | number)[], msg: string) => void): string[] {
  if (!Array.isArray(raw)) return []
  return raw.flatMap((o, i) => {
    try {
      return [new URL(String(o)).origin]
    } catch {
      report([i], 'is not an origin a browser could send (scheme://host[:port])')
      return []
    }
  })
}

/** admin.allowedHosts' and admin.consoleOrigins' schemas, as schema.ts lists them under `admin`. */
export const adminHostsSchemas = { allowedHosts: allowedHostsSchema, consoleOrigins: consoleOriginsSchema } as const
