/**
 * GatewayError → `{"errors":[{"msg":"…","code":N}]}` with the right status and challenge
 * header. Unknown errors become 500 "internal error" (the details go to the log only).
 */
import type { ServerResponse } from 'node:http'
import { GatewayError, STATUS, statusOf, toErrorBody, type ErrorSurface } from '../errors.js'

/** Normalises anything thrown into a GatewayError. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError('internal', 'internal error', { cause: err })
}

/** Writes the JSON error; if the response already started, the connection is cut instead. */
export function writeError(res: ServerResponse, err: GatewayError, surface: ErrorSurface, requestId?: string): number {
  const code = statusOf(err.reason, surface)
  if (res.headersSent) {
    res.destroy(err)
    return code
  }
  const body = JSON.stringify(toErrorBody(err.message, code, err.details as Record<string, string | number | boolean>))
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...err.headers,
  }
  if (STATUS[err.reason] === 'challenge') {
    if (surface === 'proxy') headers['proxy-authenticate'] ??= 'Bearer realm="mtls-gateway"'
    else headers['www-authenticate'] ??= 'Bearer realm="mtls-gateway"'
  }
  // RFC 9110 §15.5.2: every 401 carries a challenge.
  if (code === 401) headers['www-authenticate'] ??= 'Bearer realm="mtls-gateway"'
  if (requestId) headers['x-request-id'] = requestId
  res.writeHead(code, headers)
  res.end(body)
  return code
}
