/**
 * admit: who is calling. A bearer token from POST /gateway/token, a JWT without `jti`, or
 * a trusted TLS client certificate identifies a registered app; the app must be allowed
 * to use the endpoint. With no `callers` section the gateway is open (trusted networks
 * only; the README says so).
 */
import { GatewayError } from '../../errors.js'
import { isLoopbackHost, protectedModeMessage } from '../../config/index.js'
import { OPEN_CALLER_ID, authFailureLabel, authorizeCall, readBearerHeader, resolveBearer, singleHeader, tenantRefusal, unusableCredential, type AuthFailure, type BearerStores, type HeaderLines, type PresentedCredential } from '../../callers/index.js'
import { bearerResolveOptions, type Callers, type Gateway } from '../../gateway/index.js'
import type { Admitted, Caller, Context, Routed } from '../pipeline.js'

/** The app id of a caller admitted without credentials (`callers.required: false`, protected mode). */
const OPEN_CALLER: Caller = Object.freeze({ appId: OPEN_CALLER_ID, claims: Object.freeze({}) })

export interface AdmitOptions {
  /** Where a snapshot's bearers live (the runtime's store, the snapshot's sealers). */
  stores?: (gateway: Gateway) => BearerStores | undefined
  onAuthFailure?: (label: AuthFailure) => void
}

/**
 * Admits every request as the open caller (no `callers` section). Protected mode is judged on
 * every request, a tunnel's inner ones too: a reload that removes `callers` refuses the open
 * tunnels of other machines' callers, as a fresh start would refuse their CONNECT.
 */
export function admitOpen(ctx: Routed): Admitted {
  if (!ctx.gateway.callers.enabled) refuseUnlessLocal(ctx.inbound.remoteAddress, ctx.inbound.tls?.authorized === true)
  return admitAs(ctx, ctx.tunnel?.caller ?? OPEN_CALLER)
}

/**
 * Protected mode: with no callers section, only callers on this machine (or holders of a caller
 * certificate the listener verified) are served. `callers: { required: false }` opens it on purpose.
 */
export function refuseUnlessLocal(remoteAddress: string | undefined, verifiedCertificate: boolean): void {
  if (verifiedCertificate || (remoteAddress !== undefined && isLoopbackHost(remoteAddress))) return
  throw new GatewayError('caller_not_allowed', protectedModeMessage(remoteAddress))
}

/** The same object with its caller set: a copy of the whole context per phase cost more than the phase. */
function admitAs(ctx: Routed, caller: Caller): Admitted {
  const admitted = ctx as Routed & { caller: Caller }
  admitted.caller = caller
  return admitted
}

/**
 * The bearer credential: Proxy-Authorization on every way in; Authorization too in route mode.
 * Read from the inbound request, never the outbound copy: the strip step reads the same
 * headers to remove every credential presented, so neither step may edit them for the other.
 */
export function credentialOf(ctx: Context): PresentedCredential | undefined {
  return credentialFromHeaders(ctx.inbound, ctx.mode === 'route')
}

/**
 * Every gateway credential the caller presented, whatever header carried it: Proxy-Authorization,
 * the CONNECT's bearer inside a tunnel, and in route mode with caller apps, Authorization.
 */
export function presentedCredentials(ctx: Context): string[] {
  const { proxy, authorization } = credentialHeaders(ctx.inbound)
  const found = [bearerIn(proxy), ctx.tunnel?.token, ctx.mode === 'route' && ctx.gateway.callers.enabled ? bearerIn(authorization) : undefined]
  return found.filter((t): t is string => t !== undefined)
}

/**
 * The gateway's credential in `request`, for a gateway with caller apps: Proxy-Authorization
 * whatever its scheme, and (when allowed: route mode) an Authorization whose scheme starts with
 * `Bearer` in any case; another Authorization scheme (Basic, Digest, OAuth…) is the caller's own,
 * for the backend. Either header present but unusable wins, so it is refused, never read as none.
 */
export function credentialFromHeaders(request: HeaderLines, allowAuthorization: boolean): PresentedCredential | undefined {
  const { proxy, authorization } = credentialHeaders(request)
  const fromProxy = proxy === undefined ? undefined : readBearerHeader('Proxy-Authorization', proxy)
  const fromAuthorization = allowAuthorization && authorization !== undefined && /^\s*bearer/i.test(authorization) ? readBearerHeader('Authorization', authorization) : undefined
  const unusable = [fromProxy, fromAuthorization].find((c) => c !== undefined && 'unusable' in c)
  return unusable ?? fromProxy ?? fromAuthorization
}

/**
 * Proxy-Authorization and Authorization, each sent at most once (400 header_repeated): Node keeps
 * the first of two, which a backend or another hop may not; both are read whatever the mode.
 */
function credentialHeaders(request: HeaderLines): { proxy: string | undefined; authorization: string | undefined } {
  return { proxy: singleHeader(request, 'proxy-authorization', 'Proxy-Authorization'), authorization: singleHeader(request, 'authorization', 'Authorization') }
}

function bearerIn(value: string | undefined): string | undefined {
  const m = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value)
  return m ? m[1] : undefined
}

/** Identifies a caller by a verified inbound client certificate. */
export function callerFromCertificate(tls: Context['inbound']['tls'], callers: Callers): Caller | undefined {
  if (!tls?.authorized || !tls.subjectCN) return undefined
  const app = callers.certificateApps.find((a) => (a.subject === undefined || a.subject === tls.subjectCN) && (a.san === undefined || tls.sans.includes(a.san)))
  return app ? { appId: app.clientId, claims: {} } : undefined
}

/** Builds the admit phase for configured caller apps. */
export function createAdmit(o: AdmitOptions): (ctx: Routed) => Admitted | Promise<Admitted> {
  // Without caller apps nothing is awaited: no promise per request.
  return (ctx) => (ctx.gateway.callers.enabled ? admitCaller(ctx, o) : admitOpen(ctx))
}

async function admitCaller(ctx: Routed, o: AdmitOptions): Promise<Admitted> {
  const callers = ctx.gateway.callers
  try {
    // Inside a tunnel the CONNECT's credential is judged again, under this request's snapshot: the
    // bearer may have expired or been revoked since, the certificate's app removed or changed by a reload.
    const tunnel = ctx.tunnel
    const caller =
      tunnel?.token !== undefined
        ? await identifyCaller({ token: tunnel.token }, undefined, ctx.gateway, o)
        : tunnel?.certificate !== undefined
          ? callerFromCertificate(tunnel.certificate, callers)
          : (tunnel?.caller ?? (await identify(ctx, o)))
    if (caller === undefined) {
      if (!callers.required) return admitOpen(ctx)
      throw new GatewayError('caller_credentials_missing', 'caller credentials required: send Proxy-Authorization: Bearer <token> (get one from POST /gateway/token)')
    }
    authorizeCaller(caller, ctx.endpoint.name, ctx.tenant, callers)
    return admitAs(ctx, caller)
  } catch (err) {
    const label = authFailureLabel(err)
    if (label) o.onAuthFailure?.(label)
    throw err
  }
}

/**
 * Throws caller_not_allowed unless the caller's app (bearer or certificate) may use the endpoint
 * and the call's tenant (undefined only for an endpoint without tenancy).
 */
export function authorizeCaller(caller: Caller, endpoint: string, tenant: string | undefined, callers: Callers): void {
  if (callers.apps.has(caller.appId)) return authorizeCall(caller, endpoint, tenant, callers.apps)
  const certApp = callers.certificateApps.find((a) => a.clientId === caller.appId)
  // Fails closed: a caller whose app this snapshot does not have (a reload removed it) may use nothing.
  if (!certApp) throw new GatewayError('caller_not_allowed', `caller app "${caller.appId}" is not configured`)
  if (!certApp.endpoints.has('*') && !certApp.endpoints.has(endpoint)) {
    throw new GatewayError('caller_not_allowed', `caller app "${caller.appId}" may not use endpoint "${endpoint}"`)
  }
  const refusal = tenantRefusal(caller.appId, certApp.tenantRestriction, caller.claims, endpoint, tenant)
  if (refusal) throw refusal
}

/**
 * CONNECT: the caller must be allowed at least one endpoint serving the host; else the first
 * refusal. The tenant is named by each inner request, and judged there.
 */
export function authorizeCallerForAny(caller: Caller, endpoints: readonly { readonly name: string }[], callers: Callers): void {
  let refusal: unknown
  for (const e of endpoints) {
    try {
      return authorizeCaller(caller, e.name, undefined, callers)
    } catch (err) {
      refusal ??= err
    }
  }
  if (refusal !== undefined) throw refusal
}

async function identify(ctx: Routed, o: AdmitOptions): Promise<Caller | undefined> {
  return identifyCaller(credentialOf(ctx), ctx.inbound.tls, ctx.gateway, o)
}

/** A caller from a bearer token, else from a verified client certificate, else undefined; an unusable credential is refused. */
export async function identifyCaller(credential: PresentedCredential | undefined, tls: Context['inbound']['tls'], gateway: Gateway, o: AdmitOptions): Promise<Caller | undefined> {
  const callers = gateway.callers
  if (credential === undefined) return callerFromCertificate(tls, callers)
  if ('unusable' in credential) throw unusableCredential(credential)
  const stores = o.stores?.(gateway)
  if (!stores) throw new GatewayError('internal', 'caller apps are configured but no store is open')
  return resolveBearer(credential.token, stores, bearerResolveOptions(gateway))
}
