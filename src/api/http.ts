/** Small HTTP helpers for the /gateway/… API: bounded JSON bodies, JSON replies. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { bodyText, checkPercentUtf8, jsonObjectBody, refuseContentCoding, readBearerHeader, singleHeader, uniqueParameters, unusableCredential } from '../callers/index.js'
import { createBody, hasBody } from '../proxy/body.js'

const MAX_API_BODY = 64 * 1024

/** Reads a JSON object (or form) body (≤ 64 KiB), UTF-8 only, in no content coding (415 before it is read); malformed or a form key or JSON member given twice → 400, too large → 413 (refused on a declared length, and never read past the limit). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  refuseContentCoding(req.headers)
  const length = req.headers['content-length']
  const body = createBody(hasBody(req.headers) ? req : undefined, { limit: MAX_API_BODY, limitName: 'gateway API bodies', ...(length === undefined ? {} : { declaredLength: Number(length) }) })
  const text = bodyText(await body.bytes())
  const ct = req.headers['content-type'] ?? ''
  if (/^application\/x-www-form-urlencoded/i.test(ct)) {
    // Its escapes too: URLSearchParams would read %E9 as U+FFFD.
    checkPercentUtf8(text, 'the form body')
    return uniqueParameters(new URLSearchParams(text), 'the form body')
  }
  return jsonObjectBody(text)
}

/** Sends a JSON reply. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers })
  res.end(text)
}

/**
 * The bearer of an Authorization header, if any; 400 header_repeated when it is sent twice, and
 * 401 (malformed_credential) when it is sent but holds no usable bearer, which is not "none".
 */
export function bearerFrom(req: IncomingMessage): string | undefined {
  const header = singleHeader(req, 'authorization', 'Authorization')
  if (header === undefined) return undefined
  // Any word: the admin token is any string (at least 16 characters), not necessarily a token68.
  const credential = readBearerHeader('Authorization', header, true)
  if ('unusable' in credential) throw unusableCredential(credential)
  return credential.token
}

/** Every value the Cookie header gives `name`, in order (a browser may send one name twice, for two paths). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return []
  const out: string[] = []
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim())
  }
  return out
}
