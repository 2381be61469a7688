/**
 * The request's id: the caller's X-Request-Id when it is a plain id, else a fresh one. The id is
 * logged, echoed to the caller and sent upstream, so an id holding a gateway bearer (in any case,
 * bearer-shape.ts) or a credential the request presents is refused like a malformed one.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { carriesGatewayBearer } from '../callers/index.js'
import { MIN_TOKEN_LENGTH } from './steps/strip-gateway-credentials.js'

const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/
const CREDENTIAL_HEADER = /^(?:proxy-)?authorization$/i

/** `tunnelToken`: the bearer the CONNECT of the tunnel it came through presented. */
export function requestIdOf(req: IncomingMessage, tunnelToken: string | undefined): string {
  const given = req.headers['x-request-id']
  if (typeof given !== 'string' || !PLAIN_ID.test(given) || carriesGatewayBearer(given)) return randomUUID()
  if (tunnelToken !== undefined && holds(given, tunnelToken)) return randomUUID()
  // Every Proxy-Authorization and Authorization line, whatever its scheme: the token after it.
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (CREDENTIAL_HEADER.test(raw[i] as string) && holds(given, (raw[i + 1] as string).trim().split(/\s+/).at(-1) ?? '')) return randomUUID()
  }
  return given
}

// Shorter strings than strip_gateway_credentials looks for could be ordinary id content.
const holds = (id: string, credential: string): boolean => credential.length >= MIN_TOKEN_LENGTH && id.includes(credential)
