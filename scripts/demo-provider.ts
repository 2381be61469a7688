/**
 * The demo's partner: one HTTPS server that requires a client certificate and plays an
 * OAuth 1.0a provider (request token, an auto-approving authorize page, access token) and
 * a resource server that checks every signature with scripts/demo-verify.ts, written apart
 * from the gateway's signer (the tests also use python3-oauthlib).
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { readFileSync } from 'node:fs'
import { parseForm } from '../src/oauth1/index.js'
import { authorizationParams, verifyHmacSha1 } from './demo-verify.js'

export const CONSUMER = { key: 'demo-consumer-key', secret: 'demo-consumer-secret' }
export const STATIC_TOKEN = { token: 'demo-token', secret: 'demo-token-secret' }

interface Token {
  secret: string
  user?: string
  callback?: string
  verifier?: string
}

/** Checks the signature with the demo's own verifier (scripts/demo-verify.ts, not src/oauth1). */
function verify(req: IncomingMessage, body: string, tokens: Map<string, Token>): { ok: boolean; p: Record<string, string> } {
  const authorization = req.headers.authorization ?? ''
  const p = authorizationParams(authorization)
  if (p.oauth_consumer_key !== CONSUMER.key) return { ok: false, p }
  const tokenSecret = p.oauth_token === undefined ? undefined : p.oauth_token === STATIC_TOKEN.token ? STATIC_TOKEN.secret : tokens.get(p.oauth_token)?.secret
  if (p.oauth_token !== undefined && tokenSecret === undefined) return { ok: false, p }
  const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
  const received = { method: req.method ?? 'GET', url: `https://${req.headers.host ?? ''}${req.url ?? '/'}`, form: isForm ? body : '', authorization }
  return { ok: verifyHmacSha1(received, CONSUMER.secret, tokenSecret), p }
}

function reply(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, ...headers }).end(body)
}

/** Starts the partner on 127.0.0.1:0 with the dev PKI's server certificate. */
export function startDemoPartner(files: { serverCert: string; serverKey: string; rootCert: string }): Promise<Server> {
  const tokens = new Map<string, Token>()
  const server = createServer({ cert: readFileSync(files.serverCert), key: readFileSync(files.serverKey), ca: readFileSync(files.rootCert), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
      const path = (req.url ?? '/').split('?')[0]
      // Browsers reach the authorize page without a certificate; every API call needs one.
      if (path !== '/oauth/authorize' && !(req.socket as TLSSocket).authorized) return reply(res, 403, 'text/plain', 'client certificate required')
      if (path === '/oauth/authorize') {
        // The "user" approves at once; a real provider shows a login and a consent page.
        const token = new URL(req.url ?? '', 'https://x').searchParams.get('oauth_token') ?? ''
        const t = tokens.get(token)
        if (!t?.callback) return reply(res, 400, 'text/plain', 'unknown request token')
        t.verifier = randomBytes(8).toString('hex')
        const back = new URL(t.callback)
        back.searchParams.set('oauth_token', token)
        back.searchParams.set('oauth_verifier', t.verifier)
        return reply(res, 302, 'text/plain', '', { location: back.href })
      }
      const { ok, p } = verify(req, body, tokens)
      if (!ok) return reply(res, 401, 'application/json', JSON.stringify({ error: 'signature_invalid' }))
      if (path === '/oauth/request_token') {
        const token = randomBytes(8).toString('hex')
        tokens.set(token, { secret: randomBytes(8).toString('hex'), ...(p.oauth_callback ? { callback: p.oauth_callback } : {}) })
        return reply(res, 200, 'application/x-www-form-urlencoded', `oauth_token=${token}&oauth_token_secret=${tokens.get(token)?.secret ?? ''}&oauth_callback_confirmed=true`)
      }
      if (path === '/oauth/access_token') {
        const request = tokens.get(p.oauth_token ?? '')
        if (!request?.verifier || request.verifier !== p.oauth_verifier) return reply(res, 401, 'application/json', JSON.stringify({ error: 'verifier_invalid' }))
        tokens.delete(p.oauth_token ?? '')
        const token = `user-${randomBytes(6).toString('hex')}`
        tokens.set(token, { secret: randomBytes(8).toString('hex') })
        return reply(res, 200, 'application/x-www-form-urlencoded', `oauth_token=${token}&oauth_token_secret=${tokens.get(token)?.secret ?? ''}`)
      }
      const peer = (req.socket as TLSSocket).getPeerCertificate()
      const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? parseForm(body) : []
      reply(res, 200, 'application/json', JSON.stringify({ path: req.url, clientCertificate: peer.subject?.CN ?? null, signature: 'verified', oauthToken: p.oauth_token ?? null, partnerKey: req.headers['x-partner-key'] ?? null, form: form.length > 0 ? Object.fromEntries(form) : undefined }))
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}
