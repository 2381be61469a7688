/**
 * A profile's token URL whose origin several endpoints share (README "Which endpoint calls a
 * profile's token URLs"): the first in config order calls it unless `profiles[].tokenUrlEndpoints`
 * names one. Said as a warning when they present the same client certificate, refused when not
 * (which certificate the token server gets would be a guess); the choice key itself is checked.
 */
import { configProblem, type EndpointConfig, type EndpointTlsConfig, type GatewayConfig, type ProfileConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { loadBundle } from '../tls/index.js'

const WHICH = ['requestTokenUrl', 'accessTokenUrl'] as const
/** Stands for "any tenant": templates equal with it are equal for every tenant. */
const SLOT = 'tenant-slot-0'

/** One token URL not on the profile endpoint's origin, and the endpoints on its origin (one or more). */
interface Shared {
  profile: ProfileConfig
  which: (typeof WHICH)[number]
  origin: string
  endpoints: EndpointConfig[]
}

/** The origin of `url` with `tenant` in its `{tenant}` slots (other placeholders never sit in a host), or undefined. */
function originFor(url: string, tenant: string): string | undefined {
  try {
    return new URL(url.replaceAll('{{tenant}}', tenant).replaceAll('{tenant}', tenant).replace(/\{\{[^}]*\}\}/g, 'x')).origin
  } catch {
    return undefined
  }
}

/** The tenants worth trying: SLOT, and each label a templated host takes to equal a literal one. */
function sampleTenants(urls: readonly string[]): string[] {
  const hosts = urls.map((u) => originFor(u, SLOT)).filter((o): o is string => o !== undefined)
  const labels = new Set([SLOT])
  for (const t of hosts.filter((h) => h.includes(SLOT))) {
    const pattern = new RegExp(`^${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll(SLOT, '([a-z0-9-]+)')}$`)
    for (const h of hosts) for (const label of pattern.exec(h)?.slice(1) ?? []) labels.add(label)
  }
  return [...labels]
}

/** The endpoint whose bundle a profile's token calls use (as dance/provider's profileEndpoint). */
const ownEndpoint = (config: GatewayConfig, p: ProfileConfig): EndpointConfig | undefined =>
  config.endpoints.find((e) => (p.endpoint !== undefined ? e.name === p.endpoint : e.profile === p.name))

/** Every token URL not on its profile endpoint's origin that one or more endpoints are on (for some tenant). */
function tokenOrigins(config: GatewayConfig): Shared[] {
  const out: Shared[] = []
  const tenants = sampleTenants([...config.endpoints.map((e) => e.url), ...config.profiles.flatMap((p) => WHICH.map((w) => p[w] ?? ''))])
  for (const profile of config.profiles.filter((p) => !p.tokenUrlsOnEndpointServer)) {
    const own = ownEndpoint(config, profile)
    for (const which of WHICH) {
      const url = profile[which]
      if (url === undefined || own === undefined) continue
      for (const t of tenants) {
        const origin = originFor(url, t)
        if (origin === undefined || origin === originFor(own.url, t)) continue
        const endpoints = config.endpoints.filter((e) => originFor(e.url, t) === origin)
        if (endpoints.length >= 1 && !out.some((s) => s.profile === profile && s.which === which)) out.push({ profile, which, origin: origin.replaceAll(SLOT, '{tenant}'), endpoints })
      }
    }
  }
  return out
}

/** The client certificate an endpoint presents for each tenant ('' for its own bundle), by fingerprint; loaded only when asked. */
function certificates(): (ep: EndpointConfig, tenants: readonly string[]) => string[] {
  const cache = new Map<EndpointTlsConfig, string>()
  const of = (tls: EndpointTlsConfig): string => {
    if (!cache.has(tls)) cache.set(tls, loadBundle(tls).bundle?.leaf.fingerprint256 ?? '')
    return cache.get(tls) as string
  }
  return (ep, tenants) => ['', ...tenants].map((t) => of(ep.tenants[t] ?? ep.tls))
}

/** Whether the endpoints present one client certificate for every tenant (an unreadable bundle is another problem, said elsewhere). */
function sameCertificates(endpoints: readonly EndpointConfig[], certsOf: ReturnType<typeof certificates>): boolean {
  const tenants = [...new Set(endpoints.flatMap((e) => Object.keys(e.tenants)))]
  const [first, ...rest] = endpoints.map((e) => certsOf(e, tenants))
  return rest.every((c) => c.every((fp, i) => fp === '' || first?.[i] === '' || fp === first?.[i]))
}

const named = (endpoints: readonly EndpointConfig[]): string => endpoints.map((e) => `"${e.name}"`).join(', ')

/** Problems of `profiles[].tokenUrlEndpoints` and of shared token origins whose endpoints' certificates differ; the warnings of those whose do not. */
export function tokenUrlEndpointChecks(config: GatewayConfig): { problems: ConfigProblem[]; warnings: ConfigProblem[] } {
  const problems: ConfigProblem[] = []
  const warnings: ConfigProblem[] = []
  const origins = tokenOrigins(config)
  for (const p of config.profiles.filter((p) => p.tokenUrlEndpoints.length > 0)) problems.push(...choiceProblems(config, p, origins))
  const certsOf = certificates()
  for (const s of origins.filter((o) => o.endpoints.length >= 2)) {
    const chosen = s.endpoints.find((e) => s.profile.tokenUrlEndpoints.includes(e.name))
    if (chosen) continue
    const where = `profile "${s.profile.name}": the origin of its ${s.which}, ${s.origin}, is that of endpoints ${named(s.endpoints)}`
    const key = `profiles[${s.profile.index}].${s.which}`
    if (sameCertificates(s.endpoints, certsOf)) {
      warnings.push(configProblem(config, key, `${where} (one client certificate): its token calls there go over "${s.endpoints[0]?.name}", the first in config order, with its resolve, serverName, pins and timeouts; name the one to use in profiles[].tokenUrlEndpoints`))
    } else {
      problems.push(configProblem(config, key, `${where}, which present different client certificates: which one the token server would get is ambiguous; name the one to use in profiles[].tokenUrlEndpoints`))
    }
  }
  return { problems, warnings }
}

/** What is wrong with one profile's tokenUrlEndpoints: unknown names, names on none of its token URLs' origins, two on one origin. */
function choiceProblems(config: GatewayConfig, p: ProfileConfig, origins: readonly Shared[]): ConfigProblem[] {
  const key = `profiles[${p.index}].tokenUrlEndpoints`
  if (p.tokenUrlsOnEndpointServer) return [configProblem(config, key, 'cannot be used with tokenUrlsOnEndpointServer, which calls every token URL over the profile\'s endpoint')]
  const out: ConfigProblem[] = []
  for (const name of p.tokenUrlEndpoints) {
    const on = origins.filter((s) => s.profile === p && s.endpoints.some((e) => e.name === name))
    if (!config.endpoints.some((e) => e.name === name)) out.push(configProblem(config, key, `no endpoint named "${name}"`))
    else if (on.length === 0) out.push(configProblem(config, key, `endpoint "${name}" is not on the origin of the profile's requestTokenUrl or accessTokenUrl (the profile's own endpoint's origin aside): nothing to choose`))
  }
  const said = new Set<string>()
  for (const s of origins.filter((o) => o.profile === p)) {
    if (said.has(s.origin)) continue
    said.add(s.origin)
    const chosen = s.endpoints.filter((e) => p.tokenUrlEndpoints.includes(e.name))
    if (chosen.length > 1) out.push(configProblem(config, key, `names ${named(chosen)}, which share the origin ${s.origin} of its ${s.which}: name one`))
  }
  return out
}
