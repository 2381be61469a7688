/**
 * Every console response goes through here: the strict Content-Security-Policy and the
 * other browser hardening headers, JSON replies in the gateway's error shape, and
 * bounded JSON request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** No inline script or style, nothing from another origin, no framing. */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const HARDENING: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

/** Sends `body` with the hardening headers and a correct Content-Length. */
export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { ...HARDENING, 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers })
  res.end(body)
}

/** A JSON reply. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers)
}

/** A gateway-shaped error: {"errors":[{"msg","code"}]}. */
export function sendError(res: ServerResponse, status: number, msg: string): void {
  sendJson(res, status, { errors: [{ msg, code: status }] })
}

/** A console request the caller got wrong (status + message for sendError). */
export class ConsoleRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const MAX_BODY = 256 * 1024

/** Reads a JSON object body (≤ 256 KiB: a pasted config fits). Only JSON: a cross-site form cannot send it. */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new ConsoleRequestError(415, 'console actions take application/json bodies')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new ConsoleRequestError(413, `request body exceeds ${MAX_BODY} bytes`)
    chunks.push(chunk as Buffer)
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  } catch {
    // the 400 below
  }
  throw new ConsoleRequestError(400, 'the request body must be a JSON object')
}

/** A string field of a body, or undefined; anything else is a 400. */
export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw new ConsoleRequestError(400, `"${name}" must be a string`)
  return v
}

/** A required non-empty string field of a body. */
export function requiredString(body: Record<string, unknown>, name: string): string {
  const v = optionalString(body, name)
  if (v === undefined) throw new ConsoleRequestError(400, `"${name}" is required`)
  return v
}
