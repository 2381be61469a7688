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
import { randomFillSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { carriesCredential, credentialsToLookFor } from '../callers/index.js'

/** Ids whose random bytes one fill makes (as Node's randomUUID batches them). */
const IDS_PER_FILL = 128
const HEX = Buffer.from('0123456789abcdef', 'latin1')
/** Where each of the 16 bytes' two hex digits go in the 36-character text. */
const HEX_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]

/**
 * Fresh ids: random (version 4) UUIDs, RFC 9562 §5.4, 122 bits from `fill` (the CSPRNG's randomFillSync;
 * a test's own bytes), lower-case as `crypto.randomUUID()` writes them. Node's builds each id from twenty
 * concatenated pieces (about 0.6 KB of short strings a request); these are written into a buffer and read
 * out as one string (docs/performance.md, session 51).
 */
export function requestIdMaker(fill: (into: Buffer) => void): () => string {
  const randomBytes = Buffer.alloc(16 * IDS_PER_FILL)
  let used = IDS_PER_FILL
  const text = Buffer.alloc(36)
  text[8] = text[13] = text[18] = text[23] = 0x2d // '-'
  return () => {
    if (used === IDS_PER_FILL) {
      fill(randomBytes)
      used = 0
    }
    const from = 16 * used++
    for (let i = 0; i < 16; i++) {
      let byte = randomBytes[from + i] as number
      if (i === 6) byte = (byte & 0x0f) | 0x40 // version 4
      else if (i === 8) byte = (byte & 0x3f) | 0x80 // variant 10
      const at = HEX_AT[i] as number
      text[at] = HEX[byte >> 4] as number
      text[at + 1] = HEX[byte & 15] as number
    }
    return text.toString('latin1', 0, 36)
  }
}

/** A fresh request id from the CSPRNG (requestIdMaker). */
export const newRequestId = requestIdMaker((into) => void randomFillSync(into))

const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/
const CREDENTIAL_HEADER = /^(?:proxy-)?authorization$/i

/** `tunnelToken`: the bearer the CONNECT of the tunnel it came through presented. */
export function requestIdOf(req: IncomingMessage, tunnelToken: string | undefined): string {
  const given = req.headers['x-request-id']
  if (typeof given !== 'string' || !PLAIN_ID.test(given)) return newRequestId()
  const presented = tunnelToken !== undefined ? [tunnelToken] : []
  // Every Proxy-Authorization and Authorization line, whatever its scheme: the token after it.
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) {
    if (CREDENTIAL_HEADER.test(raw[i] as string)) presented.push((raw[i + 1] as string).trim().split(/\s+/).at(-1) ?? '')
  }
  // Shorter strings than strip_gateway_credentials looks for could be ordinary id content: credentialsToLookFor leaves them out;
  // longer ones than the id (a JWT, most bearers) cannot be in it: none lower-cased for nothing.
  return carriesCredential(given, credentialsToLookFor(presented.filter((t) => t.length <= given.length))) ? newRequestId() : given
}
