/** The request bodies the gateway reads itself (gateway API, console) are read as sent: no content coding. */
import type { IncomingHttpHeaders } from 'node:http'
import { GatewayError } from '../errors.js'

/**
 * Throws 415 unsupported_content_coding when `headers` name a Content-Encoding other than identity:
 * the gateway inflates no body, and a gzipped one read as text is only bytes that are not UTF-8.
 * RFC 9110 §15.5.16 (and §12.5.3): the answer says which codings it reads in Accept-Encoding.
 * Called before the body is read, so a refused body is never invited (100-continue) or read.
 */
export function refuseContentCoding(headers: IncomingHttpHeaders): void {
  const v = headers['content-encoding']
  const codings = (Array.isArray(v) ? v.join(',') : (v ?? '')).split(',').map((c) => c.trim()).filter((c) => c !== '' && !/^identity$/i.test(c))
  if (codings.length === 0) return
  const named = codings.join(', ')
  const shown = named.length > 40 ? `${named.slice(0, 40)}…` : named
  throw new GatewayError('unsupported_content_coding', `the request body is sent with Content-Encoding ${JSON.stringify(shown)}, which the gateway does not read: send it uncompressed (RFC 9110, section 15.5.16)`, { headers: { 'accept-encoding': 'identity' } })
}
