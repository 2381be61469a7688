/**
 * The console's router on the admin listener: static files, login and logout, then the
 * JSON API for signed-in operators. Every POST must come from the console's own origin
 * with the session's CSRF token; every action leaves one audit line; every JSON reply is
 * scrubbed of the config's secret values as a last line of defence.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdminRoutes } from '../ops/index.js'
import { configSecretValues } from '../ops/index.js'
import { ACTIONS, READS, type ActionOutcome } from './actions.js'
import { csrfBinding, isSameOrigin, operatorOf, refusedCertificate, sessionCookie, whoIs, type Operator } from './auth.js'
import { CONSOLE_PREFIX, isConsoleOn } from '../config/index.js'
import type { ConsoleHost } from './host.js'
import { GatewayError, methodNotAllowed, statusOf } from '../errors.js'
import { readJsonBody, send, sendError as sendErrorReply } from './http.js'
import { scrubbedJson, scrubSecrets } from './scrub.js'
import { createSettledThrottle, WAIT_FOR_PLACE_MS } from '../api/settled-throttle.js'
import { whileConnected } from '../api/while-connected.js'
import { withOneStoreWait } from '../store/index.js'
import { createSampler } from './samples.js'
import { auditLine, capRefusalLines } from './refusal-lines.js'
import { createSessions } from './session.js'
import { sameSecret } from '../api/same-secret.js'
import { staticFile } from './static.js'
import { singleHeader } from '../callers/index.js'
import { callerAddress } from '../proxy/caller-address.js'

export { CONSOLE_PREFIX }
const MAX_WRONG_PER_MINUTE = 20
// Far more addresses than operators; a flood from more evicts the least recent from the in-process count.
const MAX_THROTTLED_ADDRESSES = 10_000
const OFF = 'the console is off: set admin.token in the config (e.g. admin.token: "${env:GATEWAY_ADMIN_TOKEN}", at least 16 characters) and reload'

/** Builds the console for one admin listener. */
export function createConsole(host: ConsoleHost): AdminRoutes {
  const sessions = createSessions({ state: () => host.sessionState() })
  const sampler = createSampler(() => host.facts.metrics())
  const token = (): string | undefined => host.config().admin.token
  const audit = auditLine(host.facts.log)
  const { refused, internalError, flush } = capRefusalLines(host.facts.log, () => host.config(), audit, host.facts.consoleRefusal)
  const reply = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void => {
    send(res, status, 'application/json; charset=utf-8', scrubbedJson(body, configSecretValues(host.config())), headers)
  }
  // Error messages too: one may quote a store's or provider's error text, which may hold a secret.
  const sendError = (req: IncomingMessage, res: ServerResponse, err: GatewayError): void => {
    const message = scrubSecrets(err.message, configSecretValues(host.config()))
    // Operators see the whole message (scrubbed), also where a caller would be told less.
    sendErrorReply(req, res, message === err.message && err.callerMessage === err.message ? err : new GatewayError(err.reason, message, { headers: { ...err.headers }, details: { ...err.details } }))
  }

  // Per source address, counted in the store every replica shares (this process alone while
  // it does not answer): past the limit that address waits, right token or wrong; others do not.
  const throttle = createSettledThrottle({ name: 'console-sign-in', max: MAX_WRONG_PER_MINUTE, maxAddresses: MAX_THROTTLED_ADDRESSES, store: () => host.sessionState().store })
  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const expected = token()
    if (expected === undefined) return sendError(req, res, new GatewayError('console_sign_in_required', OFF))
    const attempt = await whileConnected(req, 'console sign-in', (gone) => throttle.admit(callerAddress(req.socket), gone))
    if (!attempt.admitted) {
      refused(req, 'login', 'throttled', { from: attempt.key })
      return sendError(req, res, signInThrottled(attempt))
    }
    if (!(await isRightToken(req, res, attempt, expected))) {
      refused(req, 'login', 'wrong_token', { from: attempt.key })
      return sendError(req, res, new GatewayError('console_sign_in_required', 'wrong admin token'))
    }
    const { session, cookie } = await sessions.issue('token', expected)
    const csrf = await sessions.csrf(session, expected)
    audit(session.who, 'login', 'ok')
    reply(res, 200, { who: session.who, via: 'session', csrf }, { 'set-cookie': sessionCookie(req, cookie) })
  }

  // The ended id goes to the store so every replica refuses the cookie; if the store fails the
  // write the browser still forgets the cookie, and the operator is told the session may live on.
  const logout = async (req: IncomingMessage, res: ServerResponse, op: Operator, who: string): Promise<void> => {
    const forget = { 'set-cookie': sessionCookie(req, '', 0) }
    try {
      if (op.kind === 'session') await sessions.end(op.session)
    } catch (e) {
      if (!(e instanceof GatewayError) || e.reason !== 'store_unavailable') throw e
      audit(who, 'logout', 'store_unavailable')
      return sendError(req, res, new GatewayError('store_unavailable', `sign-out could not be confirmed by the store (${e.message}): this browser forgot the session, but a copy of its cookie may stay valid until it expires; retry, or change admin.token to end every session`, { headers: forget }))
    }
    audit(who, 'logout', 'ok')
    reply(res, 200, { loggedOut: true }, forget)
  }

  // A certificate needs no store to sign in: while the store is away its holder still reads
  // the pages (the overview shows the store's state); actions wait for the store's CSRF key.
  const csrfOf = async (op: Operator, binding: { id: string; key: string }): Promise<string | null> => {
    try {
      return await sessions.csrf({ id: binding.id }, binding.key)
    } catch (e) {
      if (op.kind === 'certificate' && e instanceof GatewayError && e.reason === 'store_unavailable') return null
      throw e
    }
  }

  const api = async (req: IncomingMessage, res: ServerResponse, op: Operator, name: string): Promise<void> => {
    const who = whoIs(op)
    const csrf = csrfBinding(op, token())
    if (req.method === 'GET' && name === 'session') return reply(res, 200, { who, via: op.kind, csrf: csrf ? await csrfOf(op, csrf) : null })
    if (req.method === 'GET' && Object.hasOwn(READS, name)) {
      await sampler.touch()
      const out = await (READS[name] as NonNullable<(typeof READS)[string]>)(host, sampler, () => readJsonBody(req, res))
      return reply(res, out.status, out.body)
    }
    if (req.method !== 'POST') return sendError(req, res, Object.hasOwn(ACTIONS, name) || name === 'logout' ? methodNotAllowed(['POST'], `no console route ${req.method ?? ''} /console/api/${name}`) : new GatewayError('not_found', `no console route ${req.method ?? ''} /console/api/${name}`))
    // A browser sends a client certificate as it sends a cookie: both need the CSRF token.
    if (!csrf || !(await sessions.checkCsrf({ id: csrf.id }, csrf.key, singleHeader(req, 'x-csrf-token', 'X-CSRF-Token')))) {
      audit(who, name, 'csrf_refused')
      return sendError(req, res, new GatewayError('console_request_refused', 'missing or wrong CSRF token: reload the console page'))
    }
    if (name === 'logout') return logout(req, res, op, who)
    const action = Object.hasOwn(ACTIONS, name) ? ACTIONS[name] : undefined
    if (!action) return sendError(req, res, new GatewayError('not_found', `no console action ${name}`))
    let out: ActionOutcome
    try {
      out = await action(host, sampler, () => readJsonBody(req, res))
    } catch (e) {
      if (e instanceof GatewayError) audit(who, name, 'refused', { status: statusOf(e.reason, 'api') })
      throw e
    }
    if (out.audit) audit(who, out.audit.action, out.audit.result, out.audit.details)
    if (out.error) return sendError(req, res, out.error)
    reply(res, out.status, out.body)
  }

  const route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (path === '/console') return send(res, 308, 'text/plain; charset=utf-8', 'see /console/\n', { location: CONSOLE_PREFIX })
    const name = path.slice(CONSOLE_PREFIX.length)
    if (!name.startsWith('api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, methodNotAllowed(['GET', 'HEAD'], `${req.method ?? ''} ${path} is not served`))
      const file = staticFile(name)
      if (!file) return sendError(req, res, new GatewayError('not_found', `no console file ${path}`))
      return send(res, 200, file.type, file.body, name === '' ? {} : { 'cache-control': 'no-cache' })
    }
    const apiName = name.slice(4)
    if (req.method === 'POST' && !isSameOrigin(req, host.config().admin.allowedHosts, host.config().admin.consoleOrigins)) {
      refused(req, apiName, 'cross_origin_refused')
      return sendError(req, res, new GatewayError('console_request_refused', 'console actions are accepted only from the console page itself'))
    }
    if (apiName === 'login' && req.method === 'POST') return login(req, res)
    const admin = host.config().admin
    const op = await operatorOf(req, sessions, admin)
    if (!op) return sendError(req, res, new GatewayError('console_sign_in_required', signInHint(admin.token, refusedCertificate(req, admin))))
    return api(req, res, op, apiName)
  }

  return {
    prefix: CONSOLE_PREFIX,
    close: () => (sampler.stop(), flush()),
    listed: () => isConsoleOn(host.config().admin),
    // `client` is asked at once, while the connection is open (a caller gone by a failure has no address left to name); one store wait per request (docs/store.md).
    handle: (req, res, path, client = callerAddress(req.socket)) =>
      withOneStoreWait(() => route(req, res, path)).catch((e: unknown) => {
        if (res.headersSent) return void res.destroy()
        if (e instanceof GatewayError) return sendError(req, res, e)
        internalError(client, e)
        sendError(req, res, new GatewayError('internal', 'internal error (see the gateway log)'))
      }),
  }
}

/**
 * Whether a sign-in body presents the admin token, its attempt settled (a wrong one failed), read
 * only once the throttle admitted the attempt: a throttled address is answered (Connection: close)
 * before any 100 Continue or byte of its body. A body refused (its type, its size, not a JSON
 * object) or never complete compared no token: its attempt settles as not failed.
 */
async function isRightToken(req: IncomingMessage, res: ServerResponse, attempt: { settle(failed: boolean): Promise<void> }, expected: string): Promise<boolean> {
  let presented: unknown
  try {
    presented = (await readJsonBody(req, res)).token
  } catch (e) {
    await attempt.settle(false)
    throw e
  }
  const right = typeof presented === 'string' && sameSecret(presented, expected)
  await attempt.settle(!right)
  return right
}

/** The 429 of a sign-in the throttle refused: for settled wrong tokens, or for places held past the wait. */
function signInThrottled(attempt: { retryAfterSec: number; inFlight: boolean }): GatewayError {
  const why = attempt.inFlight ? `wrong admin tokens and sign-ins in flight from this address held all ${MAX_WRONG_PER_MINUTE} places for ${WAIT_FOR_PLACE_MS / 1000} s` : 'too many wrong admin tokens from this address'
  return new GatewayError('console_sign_in_throttled', `${why}: it may try again in ${attempt.retryAfterSec} s`, { headers: { 'retry-after': String(attempt.retryAfterSec) } })
}

/** Why a request has no operator, and what to do. */
function signInHint(token: string | undefined, refusedSubject: string | undefined): string {
  if (refusedSubject === undefined) return token === undefined ? OFF : 'sign in to the console first'
  const not = `the client certificate "${refusedSubject}" is not in admin.tls.clientSubjects or admin.tls.clientSans`
  return token === undefined ? `${not}, and admin.token is not set` : `${not}: sign in with the admin token`
}
