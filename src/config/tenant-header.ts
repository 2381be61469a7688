/**
 * The header an endpoint reads its tenant from (`endpoints[].tenantHeader`). The gateway reads
 * it once and strips it (and its CGI spellings) before forwarding, so naming a header HTTP or the
 * gateway itself gives meaning to would break every call on the endpoint: without Host or
 * Content-Length the request is not framed, and a credential header would be read as a tenant.
 */
import type { Report } from './normalize-util.js'

/** RFC 9110 field-name (token) characters. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Names a tenant header must not take, each with why (a Map: a header may be called "constructor"). */
const RESERVED: ReadonlyMap<string, string> = new Map(Object.entries({
  host: 'it addresses the request',
  'content-length': 'it frames the body',
  'transfer-encoding': 'it frames the body',
  'content-type': 'the backend reads the body by it',
  'content-encoding': 'the backend reads the body by it',
  connection: 'it is hop-by-hop',
  'keep-alive': 'it is hop-by-hop',
  'proxy-connection': 'it is hop-by-hop',
  te: 'it is hop-by-hop',
  trailer: 'it is hop-by-hop',
  upgrade: 'it is hop-by-hop',
  expect: 'it is hop-by-hop',
  authorization: "it carries the caller's credentials",
  'proxy-authorization': "it carries the caller's credentials",
  cookie: "it carries the caller's credentials",
  'x-gateway-user': 'it names the user',
}))

/** The endpoint's tenant header in lower case; a name that is not a token or is reserved is reported. */
export function tenantHeaderName(given: string | undefined, report: Report): string {
  const name = (given ?? 'X-Gateway-Tenant').toLowerCase()
  // The CGI spelling (x_gateway_user) is the same header to the backends that read it so.
  const why = RESERVED.get(name.replace(/_/g, '-'))
  if (why !== undefined) report(['tenantHeader'], `cannot be "${given}": ${why}; name a header of its own, such as X-Gateway-Tenant`)
  return name
}
