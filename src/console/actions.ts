/**
 * The console's JSON API behind the login: what each page reads and each button does.
 * Every action returns what to audit alongside its reply, so the router writes one
 * audit line per action whatever happened.
 */
import { GatewayError } from '../errors.js'
import { checkStoredUserId, checkUserId } from '../callers/index.js'
import { createAuthorizeLink, listTokenHolders, revokeToken, runProfileTest } from './adapter.js'
import { validateDraft } from './draft.js'
import { endpointRows } from './endpoints.js'
import type { ConsoleHost } from './host.js'
import { optionalString, requiredString, type ReadBody } from './http.js'
import { profileViews } from './profiles.js'
import { testEndpointConnection } from '../proxy/connection-test.js'
import { totals, type Sampler } from './samples.js'

/** An action's reply and its audit facts (never a secret). */
export interface ActionOutcome {
  status: number
  body: unknown
  /** Answered through the one error writer instead of `body`. */
  error?: GatewayError
  audit?: { action: string; result: string; details?: Record<string, string | number | boolean | undefined> }
}

type Handler = (host: ConsoleHost, sampler: Sampler, readBody: ReadBody) => Promise<ActionOutcome>

const ok = (body: unknown): ActionOutcome => ({ status: 200, body })

async function storeStatus(host: ConsoleHost): Promise<{ kind: string; up?: boolean; error?: string }> {
  const c = host.config().store
  const store = host.runtime.store
  if (!store) return { kind: 'none' }
  try {
    await store.ping()
    return { kind: c.kind, up: true }
  } catch (e) {
    return { kind: c.kind, up: false, error: e instanceof Error ? e.message : String(e) }
  }
}

const overview: Handler = async (host, sampler) => {
  const { facts } = host
  const metrics = await facts.metrics()
  const readiness = await facts.readiness()
  return ok({
    configFile: host.configFile,
    loadedAt: facts.loadedAt(),
    lastReload: facts.lastReload() ?? null,
    draining: facts.draining(),
    workers: facts.workers,
    ready: readiness.ready,
    notReady: readiness.reasons,
    // Failures that do not gate readiness (a shared Redis away, store.redis.gateReadiness off).
    readyNotes: readiness.notes ?? [],
    store: await storeStatus(host),
    totals: totals(metrics),
    series: sampler.series(),
  })
}

const reload: Handler = async (host) => {
  // As a SIGHUP or a file change then: a draining instance's config ends with it (signals.ts).
  if (host.facts.draining()) throw new GatewayError('unavailable', 'draining: no reload (the instance is shutting down; start the next one with the new config)')
  const result = await host.facts.reload('console')
  // Overtaken by a drain (it began while this reload ran): nothing changed and nothing was judged, so answered
  // as one asked during the drain, not as a failed reload (whose "the last good config stays" the page would say).
  if (!result.ok && result.abandoned) return { status: 503, body: undefined, error: new GatewayError('unavailable', result.problems.join('; ')), audit: { action: 'reload', result: 'abandoned' } }
  return { status: 200, body: result, audit: { action: 'reload', result: result.ok ? 'ok' : 'failed', details: result.ok ? { endpoints: result.endpoints } : { problems: result.problems.length } } }
}

const endpoints: Handler = async (host, sampler) => {
  const handshakes = await host.facts.handshakes()
  return host.withGateway(async (g) => ok({ rows: endpointRows(g, sampler.endpointRates(), handshakes) }))
}

const profiles: Handler = (host) => host.withGateway(async (g) => ok({ profiles: profileViews(g) }))

const testProfile: Handler = async (host, _s, readBody) => {
  const body = await readBody()
  const profile = requiredString(body, 'profile')
  const tenant = optionalString(body, 'tenant')
  const result = await host.withGateway(async (g) => {
    if (!g.profiles.has(profile)) throw new GatewayError('not_found', `no profile named "${profile}"`)
    return runProfileTest(g, profile, tenant, host.facts.gatewayUrl())
  })
  return { status: 200, body: result, audit: { action: 'test_profile', result: result.ok ? 'ok' : 'failed', details: { profile, tenant } } }
}

const testEndpoint: Handler = async (host, _s, readBody) => {
  const body = await readBody()
  const endpoint = requiredString(body, 'endpoint')
  const tenant = optionalString(body, 'tenant')
  // The config in force (a new connection outside the pools: nothing in flight is touched).
  const report = await host.withGateway((g) => testEndpointConnection(g, endpoint, tenant))
  return { status: 200, body: report, audit: { action: 'test_endpoint', result: report.ok ? 'ok' : 'failed', details: { endpoint, tenant, reason: report.error?.reason } } }
}

const users: Handler = async (host) => {
  const perUser = host.config().profiles.filter((p) => p.token.mode === 'per_user').map((p) => ({ name: p.name, tenancy: p.tenancy }))
  const { store } = host.runtime
  // The create-link form's choice of whose user: each app with its user space.
  const apps = host.config().callers.apps.map((a) => ({ clientId: a.clientId, userSpace: a.userSpace }))
  return ok({ store: Boolean(store) && host.config().store.sealKeys.length > 0, profiles: perUser, apps, holders: await listTokenHolders(store) })
}

/** Whose token; `check`: checkUserId for an id about to be used, checkStoredUserId for a revoke (earlier versions' longer ids). */
function owner(body: Record<string, unknown>, check: (subject: string, id: string) => string): { profile: string; user: string; tenant?: string } {
  const tenant = optionalString(body, 'tenant')
  return { profile: requiredString(body, 'profile'), user: check('"user"', requiredString(body, 'user')), ...(tenant !== undefined ? { tenant } : {}) }
}

/** The token's user space as listed ("" allowed), or undefined for an earlier version's token. */
function spaceOf(body: Record<string, unknown>): string | undefined {
  if (body.earlierVersion === true) return undefined
  if (typeof body.space !== 'string') throw new GatewayError('bad_request', '"space" is required (the token\'s user space, "" for callers without an app), or "earlierVersion": true')
  return body.space
}

const revoke: Handler = async (host, _s, readBody) => {
  const body = await readBody()
  // An anonymous user's id names another entry than the same known user's; so does another space's.
  const space = spaceOf(body)
  const who = Object.assign(owner(body, checkStoredUserId), space !== undefined ? { space } : {}, body.anonymous === true ? { anonymous: true as const } : {})
  const removed = await revokeToken(host.runtime.store, who)
  const audit = { action: 'revoke_token', result: removed ? 'ok' : 'not_found', details: { ...who } }
  return removed ? { status: 200, body: { revoked: true }, audit } : { status: 404, body: undefined, error: new GatewayError('not_found', `no token stored for user "${who.user}" with profile "${who.profile}"`), audit }
}

const link: Handler = async (host, _s, readBody) => {
  const body = await readBody()
  // Whose user: an app's client id, or "" for callers without an app.
  if (typeof body.app !== 'string') throw new GatewayError('bad_request', '"app" is required (the client id of the app whose user this is, "" for callers without an app)')
  const who = Object.assign(owner(body, checkUserId), { app: body.app })
  const url = await host.withGateway(async (g) => {
    const p = g.profiles.get(who.profile)
    if (!p || p.config.token.mode !== 'per_user') throw new GatewayError('not_found', `no per-user profile named "${who.profile}"`)
    return createAuthorizeLink(g, host.runtime, who, host.facts.gatewayUrl())
  })
  if (url === undefined) throw new GatewayError('not_found', 'there is no token store: per-user tokens need store.sealKeys')
  return { status: 200, body: { url }, audit: { action: 'create_authorize_link', result: 'ok', details: { ...who } } }
}

const draft: Handler = async (host, _s, readBody) => {
  const yaml = requiredString(await readBody(), 'yaml')
  const result = validateDraft(host.configFile, yaml, host.config(), host.restartBaseline())
  return { status: 200, body: result, audit: { action: 'validate_draft', result: result.ok ? 'ok' : 'problems', details: { problems: result.problems.length } } }
}

/** GET routes (reads) and POST routes (actions), by path below /console/api/. */
export const READS: Readonly<Record<string, Handler>> = { overview, endpoints, profiles, users }
export const ACTIONS: Readonly<Record<string, Handler>> = { reload, 'endpoints/test': testEndpoint, 'profiles/test': testProfile, 'users/revoke': revoke, 'users/link': link, draft }
