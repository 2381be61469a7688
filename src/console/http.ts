/**
 * Every console response goes through here: the strict Content-Security-Policy and the
 * other browser hardening headers, JSON replies in the gateway's error shape, and
 * bounded JSON request bodies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError } from '../errors.js'
import { bodyText, jsonObjectBody, refuseContentCoding } from '../callers/index.js'
import { continueSender, hasBody } from '../proxy/body.js'
import { writeError } from '../proxy/write-error.js'

/**
 * No inline script or style, nothing from another origin, no framing; and no HTML sink at all
 * (Trusted Types with no policy): the console builds its DOM with textContent only, so a string
 * given to innerHTML and the like throws instead of being parsed.
 */
export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; require-trusted-types-for 'script'; trusted-types 'none'"

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

/** An error through the gateway's one error writer, with the console's hardening headers. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: GatewayError): void {
  if (!res.headersSent) for (const [name, value] of Object.entries(HARDENING)) res.setHeader(name, value)
  // A body left unread: the connection closes after the answer.
  writeError(res, err, 'api', { close: hasBody(req.headers) && !req.complete })
}

const MAX_BODY = 256 * 1024
const tooLarge = (): GatewayError => new GatewayError('body_too_large', `request body exceeds ${MAX_BODY} bytes`)

/** A request's JSON object body, read when asked for (readJsonBody): what the console's actions get. */
export type ReadBody = () => Promise<Record<string, unknown>>

/**
 * Reads a JSON object body (≤ 256 KiB: a pasted config fits), in no content coding. Only JSON: a cross-site form cannot send it.
 * Called once the route admitted the request: a caller waiting on `Expect: 100-continue` is told to send
 * only here, after the type and declared size pass, so a refused request never uploads.
 */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown>> {
  refuseContentCoding(req.headers)
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) throw new GatewayError('unsupported_payload', 'console actions take application/json bodies')
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw tooLarge()
  continueSender(req, res)?.()
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY) throw tooLarge()
      chunks.push(chunk as Buffer)
    }
  } catch (e) {
    // Node's 'aborted': the caller left before its body was complete. No one to answer, and nothing
    // the gateway did wrong (as an unknown error it was a 500 with a stack in the log, anyone's to repeat).
    if (!(e instanceof GatewayError) && !req.complete) throw new GatewayError('caller_aborted', 'the caller closed the connection before its request body was complete', { cause: e })
    throw e
  }
  const text = bodyText(Buffer.concat(chunks))
  return jsonObjectBody(text)
}

/** A string field of a body, or undefined; anything else is a 400. */
export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name]
  if (v === undefined || v === null || v === '') return undefined
  if (typeof v !== 'string') throw new GatewayError('bad_request', `"${name}" must be a string`)
  return v
}

/** A required non-empty string field of a body. */
export function requiredString(body: Record<string, unknown>, name: string): string {
  const v = optionalString(body, name)
  if (v === undefined) throw new GatewayError('bad_request', `"${name}" is required`)
  return v
}
