/** Listener TLS, interception, store and callers: defaults and the rules between their keys. */
import { join } from 'node:path'
import { configSchema } from './schema.js'
import { parseDuration } from './units.js'
import { canonicalHost, list, obj, str, type Raw, type Report } from './normalize-util.js'
import { normalizeRedis } from './normalize-redis.js'
import type { AdminTlsConfig, GatewayConfig, ListenTlsConfig } from './types.js'
import { normalizeAdminLimits } from './normalize-limits.js'
import { allowedHostsOf, consoleOriginsOf } from './admin-hosts.js'

/** A listener's `tls` (`listen.tls`, `admin.tls`): paths made absolute, defaults from the schema. */
export function normalizeListenTls(t: Raw, abs: (p: string) => string): ListenTlsConfig {
  return {
    cert: abs(str(t.cert) as string),
    key: abs(str(t.key) as string),
    ...(str(t.keyPassphrase) !== undefined ? { keyPassphrase: str(t.keyPassphrase) as string } : {}),
    ...(str(t.clientCa) !== undefined ? { clientCa: abs(str(t.clientCa) as string) } : {}),
    requireClientCert: (t.requireClientCert as boolean | undefined) ?? configSchema.properties.listen.properties.tls.properties.requireClientCert.default,
  }
}

/** `admin`; `report` reports under admin. */
export function normalizeAdmin(admin: Raw, abs: (p: string) => string, report: Report): GatewayConfig['admin'] {
  return {
    host: str(admin.host) ?? '127.0.0.1',
    port: (admin.port as number | undefined) ?? 9090,
    enabled: (admin.enabled as boolean | undefined) ?? true,
    allowedHosts: allowedHostsOf(admin.allowedHosts),
    consoleOrigins: consoleOriginsOf(admin.consoleOrigins, (path, msg) => report(['consoleOrigins', ...path], msg)),
    ...(str(admin.token) !== undefined ? { token: str(admin.token) as string } : {}),
    ...(admin.tls ? { tls: normalizeAdminTls(obj(admin.tls), abs, (path, msg) => report(['tls', ...path], msg)) } : {}),
    ...normalizeAdminLimits(admin),
  }
}

/** `admin.tls`: a listener's TLS plus the console's certificate allow-list, which needs clientCa. */
export function normalizeAdminTls(t: Raw, abs: (p: string) => string, report: Report): AdminTlsConfig {
  const tls = { ...normalizeListenTls(t, abs), clientSubjects: list(t.clientSubjects), clientSans: list(t.clientSans) }
  if (tls.clientCa === undefined) {
    for (const key of ['requireClientCert', 'clientSubjects', 'clientSans'] as const) {
      if (t[key] !== undefined && t[key] !== false) report([key], 'needs clientCa: client certificates are verified against it')
    }
  }
  return tls
}

/** The files a listener's TLS reads (watched: a renewed certificate or client CA reloads like the rest of the config). */
export const listenTlsFiles = (t: ListenTlsConfig | undefined): string[] => (t ? [t.cert, t.key, ...(t.clientCa !== undefined ? [t.clientCa] : [])] : [])

/**
 * A minted leaf's notBefore is a minute back (callers' clocks may be behind); its notAfter must be as far ahead
 * for callers whose clocks are ahead. A shorter `leafValidity` (`0`, `500ms`) loaded, and every leaf was expired
 * when the caller checked it (notAfter is written in whole seconds): each intercepted CONNECT failed its handshake.
 */
const MIN_LEAF_VALIDITY_MS = 60_000

/** Normalises the `interception` section. */
export function normalizeInterception(t: Raw, abs: (p: string) => string, report: Report): NonNullable<GatewayConfig['interception']> {
  const v = t.leafValidity as string | number | undefined
  if (v !== undefined && parseDuration(v) < MIN_LEAF_VALIDITY_MS) report(['leafValidity'], `${String(v)} is less than 1m: a minted leaf must still be valid when a caller checks it, by a clock up to a minute ahead too (its notBefore is a minute back)`)
  return {
    caCert: abs(str(t.caCert) as string),
    caKey: abs(str(t.caKey) as string),
    ...(str(t.caKeyPassphrase) !== undefined ? { caKeyPassphrase: str(t.caKeyPassphrase) as string } : {}),
    leafValidityMs: parseDuration((t.leafValidity as string | number | undefined) ?? '24h'),
    cacheSize: (t.cacheSize as number | undefined) ?? 1000,
    passThrough: (Array.isArray(t.passThrough) ? t.passThrough : []).map((p) => ({
      host: canonicalHost(String(obj(p).host)).replace(/^\[(.*)\]$/, '$1'),
      port: (obj(p).port as number | undefined) ?? 443,
      allowPrivate: (obj(p).allowPrivate as boolean | undefined) ?? false,
      connectTimeoutMs: parseDuration((obj(p).connectTimeout as string | number | undefined) ?? configSchema.properties.interception.properties.passThrough.items.properties.connectTimeout.default),
    })),
  }
}

/**
 * The SQLite file when `store.file` is not set: under MTLS_GATEWAY_STATE_DIR when the
 * environment names a state folder (the container image does: its volume), else
 * `data/gateway.db` beside the config file.
 */
function defaultStoreFile(): string {
  const stateDir = process.env.MTLS_GATEWAY_STATE_DIR
  return stateDir ? join(stateDir, 'gateway.db') : 'data/gateway.db'
}

/** Normalises the `normalizeStore` section. */
export function normalizeStore(s: Raw, abs: (p: string) => string, report: Report): GatewayConfig['store'] {
  const kind = (str(s.kind) ?? 'sqlite') as 'sqlite' | 'redis'
  const redis = normalizeRedis(obj(s.redis), str(s.url), kind, abs, (path, msg) => report(path[0] === 'url' ? path : ['redis', ...path], msg))
  if (redis.cluster !== undefined && /[{}]/.test(str(s.keyPrefix) ?? '')) report(['keyPrefix'], 'must not contain "{" or "}" with a Redis Cluster (it would move the hash tag)')
  const sealKeys = (Array.isArray(s.sealKeys) ? s.sealKeys : []).map((k) => ({ id: String(obj(k).id), key: String(obj(k).key) }))
  const activeKey = str(s.activeKey)
  if (activeKey !== undefined && !sealKeys.some((k) => k.id === activeKey)) report(['activeKey'], `no sealKeys entry has id "${activeKey}"`)
  return {
    kind,
    file: abs(str(s.file) ?? defaultStoreFile()),
    ...(str(s.url) !== undefined ? { url: str(s.url) as string } : {}),
    keyPrefix: str(s.keyPrefix) ?? 'mtls-gateway:',
    redis,
    sealKeys,
    ...(activeKey !== undefined ? { activeKey } : {}),
  }
}

/** One `callers.apps` entry as written, with its defaults. */
function normalizeApp(a: unknown): GatewayConfig['callers']['apps'][number] {
  const app = obj(a)
  const cert = obj(app.clientCertificate)
  return {
    clientId: String(app.clientId),
    userSpace: str(app.userSpace) ?? String(app.clientId),
    ...(str(app.hs256Secret) !== undefined ? { hs256Secret: str(app.hs256Secret) as string } : {}),
    ...(str(app.rs256PublicKey) !== undefined ? { rs256PublicKey: str(app.rs256PublicKey) as string } : {}),
    audience: String(app.audience),
    endpoints: list(app.endpoints),
    allowRsa15Jwe: (app.allowRsa15Jwe as boolean | undefined) ?? false,
    ...(app.clientCertificate ? { clientCertificate: { ...(str(cert.subject) ? { subject: str(cert.subject) as string } : {}), ...(str(cert.san) ? { san: str(cert.san) as string } : {}) } } : {}),
    ...(Array.isArray(app.tenants) ? { tenants: list(app.tenants) } : {}),
    ...(str(app.tenantClaim) !== undefined ? { tenantClaim: str(app.tenantClaim) as string } : {}),
    ...(app.jwtMaxLifetime !== undefined ? { jwtMaxLifetimeSec: parseDuration(app.jwtMaxLifetime as string | number) / 1000 } : {}),
  }
}

/**
 * The index of an earlier certificate app that takes every certificate app `i`'s would (its subject
 * and SAN each absent or the same): `clientCertificate: {}` takes all, and apps after it were never
 * reached.
 */
function shadowingApp(apps: readonly { clientCertificate?: { subject?: string; san?: string } }[], i: number): number | undefined {
  const mine = apps[i]?.clientCertificate
  if (mine === undefined) return undefined
  const at = apps.findIndex((b, j) => j < i && b.clientCertificate !== undefined && (b.clientCertificate.subject === undefined || b.clientCertificate.subject === mine.subject) && (b.clientCertificate.san === undefined || b.clientCertificate.san === mine.san))
  return at === -1 ? undefined : at
}

/** Normalises the `normalizeCallers` section. */
export function normalizeCallers(raw: unknown, report: Report): GatewayConfig['callers'] {
  const c = obj(raw)
  const apps = (Array.isArray(c.apps) ? c.apps : []).map(normalizeApp)
  const jwtApp = (a: (typeof apps)[number]): boolean => a.hs256Secret !== undefined || a.rs256PublicKey !== undefined
  apps.forEach((a, i) => {
    if (a.hs256Secret === undefined && a.rs256PublicKey === undefined && !a.clientCertificate) report(['apps', i], 'give hs256Secret, rs256PublicKey or clientCertificate')
    // The callers without an app are "-" (access log) with user space "": an app of that id would share their users.
    if (a.clientId === '-') report(['apps', i, 'clientId'], '"-" is reserved for callers without an app')
    // One client id is one app, whatever identifies it: a second entry would silently take over the first's
    // user space (and a certificate app the JWT app's endpoints). Two JWT apps are reported by compileCallerApps.
    const first = apps.findIndex((b) => b.clientId === a.clientId)
    if (first < i && !(jwtApp(a) && jwtApp(apps[first] as (typeof apps)[number]))) report(['apps', i, 'clientId'], `duplicate client id "${a.clientId}" (also callers.apps[${first}])`)
    const shadow = shadowingApp(apps, i)
    if (shadow !== undefined) report(['apps', i, 'clientCertificate'], `app "${a.clientId}" can never be identified by its certificate: app "${apps[shadow]?.clientId}" (callers.apps[${shadow}]) comes first and matches every certificate this one would (the first match wins)`)
  })
  return {
    enabled: raw !== undefined,
    required: (c.required as boolean | undefined) ?? true,
    ...callerLifetimes(c, report),
    persistDecryptedClaims: (c.persistDecryptedClaims as boolean | undefined) ?? false,
    claimAliasPrefix: str(c.claimAliasPrefix) ?? configSchema.properties.callers.properties.claimAliasPrefix.default,
    apps,
    failedExchangesPerMinute: (c.failedExchangesPerMinute as number | undefined) ?? configSchema.properties.callers.properties.failedExchangesPerMinute.default,
    gatewayKeys: (Array.isArray(c.gatewayKeys) ? c.gatewayKeys : []).map((k) => {
      const key = obj(k)
      return { kid: String(key.kid), privateKey: String(key.privateKey), ...(str(key.passphrase) !== undefined ? { passphrase: str(key.passphrase) as string } : {}) }
    }),
    ...(str(c.adminToken) !== undefined ? { adminToken: str(c.adminToken) as string } : {}),
  }
}

/**
 * The callers' clock skew and lifetimes. Bearers and anonymous users' entries are issued for whole seconds: a lifetime under 1 s (`0`,
 * `500ms`) would make bearers that are expired when issued, and made the dance's anonymous TTL 0
 * (a 500 at its start).
 */
function callerLifetimes(c: Record<string, unknown>, report: Report): Pick<GatewayConfig['callers'], 'clockSkewSec' | 'bearerTtlSec' | 'anonymousTtlMs' | 'jwtMaxLifetimeSec'> {
  for (const key of ['bearerTtl', 'anonymousTtl'] as const) {
    const v = c[key] as string | number | undefined
    if (v !== undefined && parseDuration(v) < 1000) report([key], `${String(v)} is less than 1 s: bearers and anonymous users' entries live whole seconds`)
  }
  return {
    clockSkewSec: Math.round(parseDuration((c.clockSkew as string | number | undefined) ?? '30s') / 1000),
    bearerTtlSec: Math.round(parseDuration((c.bearerTtl as string | number | undefined) ?? '15m') / 1000),
    anonymousTtlMs: parseDuration((c.anonymousTtl as string | number | undefined) ?? '30m'),
    ...(c.jwtMaxLifetime !== undefined ? { jwtMaxLifetimeSec: parseDuration(c.jwtMaxLifetime as string | number) / 1000 } : {}),
  }
}
