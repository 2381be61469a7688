/**
 * `endpoints[].via.url` is dialled as `host:port` only (gateway/proxy-tunnel.ts): a user name and
 * password, a path, a query or a fragment in it would be dropped, silently (the proxy answering
 * 407 to every call, for credentials the operator believed sent). Refused at load with the fix.
 */
import type { Report } from './normalize-util.js'

/**
 * Reports `via.password` without `via.username`: Proxy-Authorization is sent only with a user name,
 * so the password would go nowhere and the proxy answer 407 to every call.
 */
export function checkViaCredentials(username: string | undefined, password: string | undefined, report: Report): void {
  if (password !== undefined && username === undefined) report(['via', 'password'], 'is set without via.username: the gateway sends Proxy-Authorization (Basic) only with both, so this password would never be sent; set via.username')
}

/** Reports what `via.url` carries that the gateway would not use. */
export function checkViaUrl(url: string | undefined, report: Report): void {
  if (url === undefined) return
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    report(['via', 'url'], 'not a valid URL: write http://host:port')
    return
  }
  if (parsed.username || parsed.password) report(['via', 'url'], 'must not carry a user name or password (the gateway sends none from the URL): set via.username and via.password')
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) report(['via', 'url'], 'must be http://host:port, without a path, query or fragment (a CONNECT proxy is asked for the endpoint\'s host, never a path)')
}
