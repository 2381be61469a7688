/**
 * Risks in a config as written (legacyOAuth10, per-user links built on the Host header, endpoints
 * forward mode cannot tell apart, bundle certificates the client chain does not use, a listen.waysIn that serves nothing,
 * durations written as a small number of milliseconds, store settings the store's kind does not read, a Redis credential given in the URL too (the same), a token URL whose origin several endpoints share): said once per instance for each config it adopts, at the start
 * and on each accepted reload. One process says them itself; with `--workers` the primary does,
 * as it accepts the config for every worker, so N workers do not log N copies (nor a replacement one more).
 */
import type { Logger } from 'pino'
import { LEGACY_OAUTH10_RISK, repeatedRedisCredentialWarnings, unitlessDurationWarnings, unusedStoreSettingWarnings, waysInWarning, type GatewayConfig } from '../config/index.js'
import { bundleWarnings, compileDestination, hostKeys, tokenUrlEndpointChecks } from '../gateway/index.js'

const HOST_HEADER_LINKS =
  'per-user profile without listen.publicUrl or its own callbackUrl: its authorize links and callback are built on the Host header callers send, so a caller can point users at another origin; set listen.publicUrl in production'
const SHADOWED =
  'endpoint never chosen for forward-proxy or CONNECT requests: an earlier endpoint on the same host and port with the same pathPrefix takes all of them (route mode reaches both); give them distinct pathPrefix values'

/** Logs every risk `config` carries, one warning each. */
export function logConfigWarnings(logger: Logger, config: GatewayConfig): void {
  for (const w of profileWarnings(config)) logger.warn({ profile: w.profile }, w.msg)
  for (const s of shadowedInForwardMode(config)) logger.warn(s, SHADOWED)
  for (const w of [...bundleWarnings(config), ...unitlessDurationWarnings(config), ...unusedStoreSettingWarnings(config), ...repeatedRedisCredentialWarnings(config), ...tokenUrlEndpointChecks(config).warnings]) logger.warn({ key: w.key, file: w.file, line: w.line, column: w.column }, w.msg)
  const idle = waysInWarning(config)
  if (idle) logger.warn({ key: 'listen.waysIn' }, idle)
}

/** Per-user links built on the Host header, and legacyOAuth10. */
const profileWarnings = (config: GatewayConfig): { profile: string; msg: string }[] => [
  ...(config.listen.publicUrl === undefined ? config.profiles.filter((p) => p.token.mode === 'per_user' && p.callbackUrl === undefined) : []).map((p) => ({ profile: p.name, msg: HOST_HEADER_LINKS })),
  ...config.profiles.filter((p) => p.legacyOAuth10).map((p) => ({ profile: p.name, msg: `profile ${LEGACY_OAUTH10_RISK}` })),
]

/** Endpoints whose host and pathPrefix an earlier one already claims (forward mode picks the first, as compileGateway orders them). */
function shadowedInForwardMode(config: GatewayConfig): { endpoint: string; shadowedBy: string; host: string }[] {
  const out: { endpoint: string; shadowedBy: string; host: string }[] = []
  const firstByHost = new Map<string, Map<string, string>>()
  for (const ep of config.endpoints) {
    const { prefix } = compileDestination(ep.url, ep.pathPrefix)
    for (const host of new Set(hostKeys(ep))) {
      const first = firstByHost.get(host) ?? new Map<string, string>()
      firstByHost.set(host, first)
      const earlier = first.get(prefix)
      if (earlier === undefined) first.set(prefix, ep.name)
      else out.push({ endpoint: ep.name, shadowedBy: earlier, host })
    }
  }
  return out
}
