/**
 * admin.allowedHosts: the host names the admin listener answers for besides IP literals and
 * `localhost` (DNS rebinding, ops/admin-host.ts). Its schema and its normal form live here, with
 * the one comparison both the config and a request's Host go through.
 */

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
