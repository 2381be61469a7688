/**
 * Caller apps and the gateway's JWE keys, compiled with each config snapshot so a reload
 * applies new apps and keys at once.
 */
import { collectConfigProblems, type CallerAppSettings, type GatewayConfig } from '../config/index.js'
import { ConfigError } from '../errors.js'
import { compileCallerApps, compileGatewayKeys, compileTenantRestriction, type CallerApp, type GatewayKeys, type ResolveOptions, type TenantRestriction } from '../callers/index.js'

/** An app identified by its inbound TLS client certificate. */
export interface CertificateApp {
  readonly clientId: string
  readonly endpoints: ReadonlySet<string>
  readonly subject?: string
  readonly san?: string
  /** Which tenants its calls may name; undefined: any. */
  readonly tenantRestriction: TenantRestriction | undefined
}

export interface Callers {
  readonly enabled: boolean
  readonly required: boolean
  readonly apps: ReadonlyMap<string, CallerApp>
  readonly certificateApps: readonly CertificateApp[]
  readonly keys: GatewayKeys
  /** `callers.claimAliasPrefix`, carried with the apps so a reload changes both at once. */
  readonly claimAliasPrefix: string
  /** Each app's (JWT or certificate) user space by client id: whose users its `sub` names. */
  readonly userSpaces: ReadonlyMap<string, string>
}

/**
 * The user space of a caller's users' tokens: its app's userSpace. "" for a caller without a
 * configured app (no callers section, or callers.required: false and no credentials), which no
 * app's userSpace can equal (the schema needs at least one character).
 */
export function userSpaceOf(callers: Callers, appId: string): string {
  return callers.userSpaces.get(appId) ?? ''
}

/** How a snapshot resolves bearers: its apps, alias prefix and lifetimes (a bearer is judged by the settings in force). */
export function bearerResolveOptions(g: { readonly config: GatewayConfig; readonly callers: Callers }): ResolveOptions {
  const c = g.config.callers
  return { apps: g.callers.apps, clockSkewSec: c.clockSkewSec, claimAliasPrefix: g.callers.claimAliasPrefix, lifetimes: { bearerTtlSec: c.bearerTtlSec, anonymousTtlSec: c.anonymousTtlMs / 1000 } }
}

const hasJwtKey = (a: CallerAppSettings): boolean => a.hs256Secret !== undefined || a.rs256PublicKey !== undefined

/** Compiles apps and keys; throws ConfigError listing every problem of both, each at its line in the file (as the loader's are). */
export function compileCallers(config: GatewayConfig): Callers {
  const c = config.callers
  const problems = collectConfigProblems(config)
  const apps = problems.collect(() => compileJwtApps(config))
  const keys = problems.collect(() => compileGatewayKeys(c.gatewayKeys, { file: config.file, key: 'callers.gatewayKeys' }))
  if (apps === undefined || keys === undefined) throw new ConfigError(problems.list)
  const certificateApps = c.apps
    .filter((a) => a.clientCertificate !== undefined)
    .map((a) => ({ clientId: a.clientId, endpoints: new Set(a.endpoints), ...a.clientCertificate, tenantRestriction: compileTenantRestriction(a.tenants, a.tenantClaim) }))
  const userSpaces = new Map(c.apps.map((a) => [a.clientId, a.userSpace]))
  return { enabled: c.enabled, required: c.enabled && c.required, apps, certificateApps, keys, claimAliasPrefix: c.claimAliasPrefix, userSpaces }
}

function compileJwtApps(config: GatewayConfig): ReadonlyMap<string, CallerApp> {
  const jwtApps = config.callers.apps.flatMap((a, i) => (hasJwtKey(a) ? [{ a, i }] : []))
  return compileCallerApps(
    jwtApps.map(({ a }) => ({
      clientId: a.clientId,
      audience: a.audience,
      endpoints: a.endpoints,
      allowRsa15Jwe: a.allowRsa15Jwe,
      ...(a.tenants !== undefined ? { tenants: a.tenants } : {}),
      ...(a.tenantClaim !== undefined ? { tenantClaim: a.tenantClaim } : {}),
      ...((a.jwtMaxLifetimeSec ?? config.callers.jwtMaxLifetimeSec) !== undefined ? { jwtMaxLifetimeSec: a.jwtMaxLifetimeSec ?? config.callers.jwtMaxLifetimeSec } : {}),
      ...(a.hs256Secret !== undefined ? { hs256Secret: a.hs256Secret } : {}),
      ...(a.rs256PublicKey !== undefined ? { rs256PublicKey: a.rs256PublicKey } : {}),
    })),
    // Problems name the app's place in callers.apps, certificate-only entries counted.
    { file: config.file, key: 'callers.apps', indices: jwtApps.map(({ i }) => i) },
  )
}
