/**
 * The request's id: the caller's X-Request-Id when it is a plain id, else a fresh one. The id is
 * logged, echoed to the caller and sent upstream, so an id holding a gateway bearer or a credential
 * the request presents, either in any letter case (callers' credential-text.ts), is refused like a
 * malformed one.
 *
 * "Presented" here is wider than strip_gateway_credentials' (authenticate-caller's
 * presentedCredentials), on purpose, and contains it: that one is the gateway's own credentials,
 * which must not go upstream (Proxy-Authorization's Bearer token, the tunnel's bearer, route mode's
 * `Authorization: Bearer` with caller apps); a copy of the backend's own Authorization may go to the
 * backend. The id also goes to the logs and back to the caller, where no credential may, so here it
 * is the token of every Proxy-Authorization and Authorization line whatever its scheme, mode and
 * callers (Basic, a backend's bearer, a repeated line the pipeline refuses), and the tunnel's. It
 * is read in the listener, before the request's mode, endpoint or context exist.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { carriesCredential, credentialsToLookFor } from '../callers/index.js'

const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/
const CREDENTIAL_HEADER = /^(?:proxy-)?authorization$/i

/** `tunnelToken`: the bearer the CONNECT of the tunnel it came through presented. */
export function requestIdOf(req: IncomingMessage, tunnelToken: string | undefined): string {
  const given = req.headers['x-request-id']
  if (typeof given !== 'string' || !PLAIN_ID.test(given)) return randomUUID()
  const presented = tunnelToken !== undefined ? [tunnelToken] : []
  // Every Proxy-Authorization and Authorization line, whatever its scheme: the token after it.
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (CREDENTIAL_HEADER.test(raw[i] as string)) presented.push((raw[i + 1] as string).trim().split(/\s+/).at(-1) ?? '')
  }
  // Shorter strings than strip_gateway_credentials looks for could be ordinary id content: credentialsToLookFor leaves them out;
  // longer ones than the id (a JWT, most bearers) cannot be in it: none lower-cased for nothing.
  return carriesCredential(given, credentialsToLookFor(presented.filter((t) => t.length <= given.length))) ? randomUUID() : given
}
