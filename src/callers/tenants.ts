/**
 * Which tenants a caller app's calls may name. A tenant selects the backend's base URL and
 * possibly its own client bundle, so an app meant for one tenant must not send calls under
 * another's certificate. Two optional rules, both enforced when both are given: a fixed list
 * per app (`tenants`), and a claim of the caller's JWT/JWE that names the tenant(s) its user
 * belongs to (`tenantClaim`). Without either, any tenant (the behaviour before the option).
 */
import type { GatewayError } from '../errors.js'
import { canonicalTenant } from '../config/index.js'
import { authError } from './auth-failure.js'

/** An app's tenant rule, compiled at load. */
export interface TenantRestriction {
  /** The tenants the app may name (lower-case DNS labels); absent: any tenant. */
  readonly tenants?: ReadonlySet<string>
  /** The claim that must name the tenant (a string, or an array of strings); absent: no claim rule. */
  readonly claim?: string
}


/** Compiles `tenants`/`tenantClaim`; undefined when neither is given (no restriction). */
export function compileTenantRestriction(tenants: readonly string[] | undefined, claim: string | undefined): TenantRestriction | undefined {
  if (tenants === undefined && claim === undefined) return undefined
  const rule: { tenants?: ReadonlySet<string>; claim?: string } = {}
  if (tenants !== undefined) rule.tenants = new Set(tenants)
  if (claim !== undefined) rule.claim = claim
  return Object.freeze(rule)
}

/** Whether the claim value names the tenant: a string, or any string of an array, compared as DNS labels (case-insensitive). */
function claimNames(value: unknown, tenant: string): boolean {
  if (typeof value === 'string') return canonicalTenant(value) === tenant
  return Array.isArray(value) && value.some((v) => typeof v === 'string' && canonicalTenant(v) === tenant)
}

/**
 * The refusal of a call under `tenant`, or undefined when the app may make it. A call without
 * a tenant (an endpoint without tenancy) is not judged here: only `endpoints` applies to it.
 */
export function tenantRefusal(
  appId: string,
  rule: TenantRestriction | undefined,
  claims: Readonly<Record<string, unknown>>,
  endpoint: string,
  tenant: string | undefined,
): GatewayError | undefined {
  if (rule === undefined || tenant === undefined) return undefined
  const t = canonicalTenant(tenant) ?? tenant
  const refuse = (why: string): GatewayError =>
    authError('not_allowed', `caller app "${appId}" may not use tenant "${t}" on endpoint "${endpoint}"${why}`, { reason: 'caller_not_allowed' })
  if (rule.tenants !== undefined && !rule.tenants.has(t)) return refuse('')
  if (rule.claim === undefined) return undefined
  // Own properties only: a claim named like an Object.prototype member must not read the prototype.
  const value = Object.hasOwn(claims, rule.claim) ? claims[rule.claim] : undefined
  if (value === undefined) return refuse(`: the caller's credentials carry no "${rule.claim}" claim`)
  if (!claimNames(value, t)) return refuse(`: the caller's "${rule.claim}" claim does not name it`)
  return undefined
}
