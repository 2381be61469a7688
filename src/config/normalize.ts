/**
 * Schema-valid raw config → GatewayConfig: defaults filled in one place, units parsed,
 * paths made absolute, and the cross-field rules a JSON Schema cannot say well.
 */
import { isIP } from 'node:net'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { parseDuration, parseSize } from './units.js'
import type { EndpointConfig, EndpointTlsConfig, FieldConfig, GatewayConfig, ProfileConfig, TlsVersion } from './types.js'
import { parseTemplate } from './template.js'
import type { YamlSource } from './yaml-source.js'

type Raw = Record<string, unknown>

interface NormalizeContext {
  file: string
  secrets: string[]
  files: string[]
  source: YamlSource
}

const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' ? (v as Raw) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const list = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.map(String) : [])

/** Fills defaults and applies cross-field rules; throws ConfigError naming each problem. */
export function normalizeConfig(raw: unknown, ctx: NormalizeContext): GatewayConfig {
  const root = obj(raw)
  const problems: ConfigProblem[] = []
  const baseDir = dirname(ctx.file)
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p))
  const listen = obj(root.listen)
  const admin = obj(root.admin)
  const forwarding = obj(root.forwarding)
  const endpoints = (Array.isArray(root.endpoints) ? root.endpoints : []).map((e, i) =>
    normalizeEndpoint(obj(e), i, abs, (path, msg) => problems.push(ctx.source.problem(['endpoints', i, ...path], msg))),
  )
  const profiles = (Array.isArray(root.profiles) ? root.profiles : []).map((p, i) =>
    normalizeProfile(obj(p), i, abs, (path, msg) => problems.push(ctx.source.problem(['profiles', i, ...path], msg))),
  )
  const profileNames = new Set(profiles.map((p) => p.name))
  for (const p of profiles) {
    if (p.endpoint !== undefined && !endpoints.some((e) => e.name === p.endpoint)) {
      problems.push(ctx.source.problem(['profiles', p.index, 'endpoint'], `no endpoint named "${p.endpoint}"`))
    } else if (p.endpoint === undefined && p.token.mode === 'per_user' && !endpoints.some((e) => e.profile === p.name)) {
      // The token URLs are called with an endpoint's client bundle; without one the dance cannot start.
      problems.push(ctx.source.problem(['profiles', p.index, 'name'], `no endpoint uses profile "${p.name}": name it in an endpoint's profile, or set profiles[].endpoint`))
    }
  }
  for (const e of endpoints) {
    if (e.profile !== undefined && !profileNames.has(e.profile)) {
      problems.push(ctx.source.problem(['endpoints', e.index, 'profile'], `no profile named "${e.profile}" (profiles: ${[...profileNames].join(', ') || 'none'})`))
    }
  }
  const names = new Map<string, number>()
  for (const e of endpoints) {
    const first = names.get(e.name)
    if (first !== undefined) {
      problems.push(ctx.source.problem(['endpoints', e.index, 'name'], `duplicate endpoint name "${e.name}" (also endpoints[${first}])`))
    }
    names.set(e.name, e.index)
  }
  const files = new Set(ctx.files)
  files.add(ctx.file)
  for (const e of endpoints) for (const t of [e.tls, ...Object.values(e.tenants)]) for (const f of bundleFiles(t)) files.add(f)
  for (const p of profiles) if (p.privateKey) files.add(p.privateKey)
  const config: GatewayConfig = {
    file: ctx.file,
    files: [...files],
    secrets: [...new Set(ctx.secrets)],
    listen: {
      host: str(listen.host) ?? '0.0.0.0',
      port: (listen.port as number | undefined) ?? 8080,
      ...(str(listen.publicUrl) ? { publicUrl: (str(listen.publicUrl) as string).replace(/\/+$/, '') } : {}),
      ...(listen.tls ? { tls: normalizeListenTls(obj(listen.tls), abs) } : {}),
    },
    store: normalizeStore(obj(root.store), abs, (path, msg) => problems.push(ctx.source.problem(['store', ...path], msg))),
    callers: normalizeCallers(root.callers, (path, msg) => problems.push(ctx.source.problem(['callers', ...path], msg))),
    ...(root.interception ? { interception: normalizeInterception(obj(root.interception), abs) } : {}),
    admin: {
      host: str(admin.host) ?? '127.0.0.1',
      port: (admin.port as number | undefined) ?? 9090,
      enabled: (admin.enabled as boolean | undefined) ?? true,
    },
    drain: { graceMs: parseDuration((obj(root.drain).grace as string | number | undefined) ?? '25s') },
    limits: { maxBufferedBody: parseSize((obj(root.limits).maxBufferedBody as string | number | undefined) ?? '10MiB') },
    forwarding: {
      xForwardedFor: (forwarding.xForwardedFor as boolean | undefined) ?? false,
      via: (forwarding.via as boolean | undefined) ?? true,
    },
    endpoints,
    profiles,
  }
  if (problems.length > 0) throw new ConfigError(problems)
  if (config.listen.tls) for (const f of [config.listen.tls.cert, config.listen.tls.key]) files.add(f)
  if (config.interception) for (const f of [config.interception.caCert, config.interception.caKey]) files.add(f)
  config.files = [...files]
  return config
}

function normalizeListenTls(t: Raw, abs: (p: string) => string): NonNullable<GatewayConfig['listen']['tls']> {
  return {
    cert: abs(str(t.cert) as string),
    key: abs(str(t.key) as string),
    ...(str(t.keyPassphrase) !== undefined ? { keyPassphrase: str(t.keyPassphrase) as string } : {}),
    ...(str(t.clientCa) !== undefined ? { clientCa: abs(str(t.clientCa) as string) } : {}),
    requireClientCert: (t.requireClientCert as boolean | undefined) ?? false,
  }
}

function normalizeInterception(t: Raw, abs: (p: string) => string): NonNullable<GatewayConfig['interception']> {
  return {
    caCert: abs(str(t.caCert) as string),
    caKey: abs(str(t.caKey) as string),
    ...(str(t.caKeyPassphrase) !== undefined ? { caKeyPassphrase: str(t.caKeyPassphrase) as string } : {}),
    leafValidityMs: parseDuration((t.leafValidity as string | number | undefined) ?? '24h'),
    cacheSize: (t.cacheSize as number | undefined) ?? 1000,
    passThrough: (Array.isArray(t.passThrough) ? t.passThrough : []).map((p) => ({
      host: String(obj(p).host).toLowerCase(),
      port: (obj(p).port as number | undefined) ?? 443,
      allowPrivate: (obj(p).allowPrivate as boolean | undefined) ?? false,
    })),
  }
}

function normalizeStore(s: Raw, abs: (p: string) => string, report: Report): GatewayConfig['store'] {
  const kind = (str(s.kind) ?? 'sqlite') as 'sqlite' | 'redis'
  if (kind === 'redis' && s.url === undefined) report(['url'], 'is required with kind redis')
  const sealKeys = (Array.isArray(s.sealKeys) ? s.sealKeys : []).map((k) => ({ id: String(obj(k).id), key: String(obj(k).key) }))
  const activeKey = str(s.activeKey)
  if (activeKey !== undefined && !sealKeys.some((k) => k.id === activeKey)) report(['activeKey'], `no sealKeys entry has id "${activeKey}"`)
  return {
    kind,
    file: abs(str(s.file) ?? 'data/gateway.db'),
    ...(str(s.url) !== undefined ? { url: str(s.url) as string } : {}),
    keyPrefix: str(s.keyPrefix) ?? 'mtls-gateway:',
    sealKeys,
    ...(activeKey !== undefined ? { activeKey } : {}),
  }
}

function normalizeCallers(raw: unknown, report: Report): GatewayConfig['callers'] {
  const c = obj(raw)
  const apps = (Array.isArray(c.apps) ? c.apps : []).map((a) => {
    const app = obj(a)
    const cert = obj(app.clientCertificate)
    return {
      clientId: String(app.clientId),
      ...(str(app.hs256Secret) !== undefined ? { hs256Secret: str(app.hs256Secret) as string } : {}),
      ...(str(app.rs256PublicKey) !== undefined ? { rs256PublicKey: str(app.rs256PublicKey) as string } : {}),
      audience: String(app.audience),
      endpoints: list(app.endpoints),
      allowRsa15Jwe: (app.allowRsa15Jwe as boolean | undefined) ?? false,
      ...(app.clientCertificate ? { clientCertificate: { ...(str(cert.subject) ? { subject: str(cert.subject) as string } : {}), ...(str(cert.san) ? { san: str(cert.san) as string } : {}) } } : {}),
    }
  })
  apps.forEach((a, i) => {
    if (a.hs256Secret === undefined && a.rs256PublicKey === undefined && !a.clientCertificate) report(['apps', i], 'give hs256Secret, rs256PublicKey or clientCertificate')
  })
  return {
    enabled: raw !== undefined,
    required: (c.required as boolean | undefined) ?? true,
    clockSkewSec: Math.round(parseDuration((c.clockSkew as string | number | undefined) ?? '30s') / 1000),
    bearerTtlSec: Math.round(parseDuration((c.bearerTtl as string | number | undefined) ?? '15m') / 1000),
    anonymousTtlMs: parseDuration((c.anonymousTtl as string | number | undefined) ?? '30m'),
    persistDecryptedClaims: (c.persistDecryptedClaims as boolean | undefined) ?? false,
    apps,
    gatewayKeys: (Array.isArray(c.gatewayKeys) ? c.gatewayKeys : []).map((k) => {
      const key = obj(k)
      return { kid: String(key.kid), privateKey: String(key.privateKey), ...(str(key.passphrase) !== undefined ? { passphrase: str(key.passphrase) as string } : {}) }
    }),
    ...(str(c.adminToken) !== undefined ? { adminToken: str(c.adminToken) as string } : {}),
  }
}

function normalizeFields(v: unknown, report: Report): FieldConfig[] {
  const out = (Array.isArray(v) ? v : []).map((f) => obj(f) as unknown as FieldConfig)
  out.forEach((f, i) => {
    try {
      parseTemplate(f.value)
    } catch (e) {
      report([i, 'value'], (e as Error).message)
    }
    if (f.type === 'header' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(f.key)) report([i, 'key'], 'not a valid header name')
  })
  return out
}

function normalizeProfile(p: Raw, index: number, abs: (p: string) => string, report: Report): ProfileConfig {
  const method = (str(p.signatureMethod) ?? 'HMAC-SHA1') as ProfileConfig['signatureMethod']
  const token = obj(p.token)
  const mode = (str(token.mode) ?? 'none') as ProfileConfig['token']['mode']
  if (method.startsWith('RSA-') && p.privateKey === undefined) report(['privateKey'], `is required for ${method}`)
  if (!method.startsWith('RSA-') && p.consumerSecret === undefined) report(['consumerSecret'], `is required for ${method}`)
  if (mode === 'static' && (token.token === undefined || token.tokenSecret === undefined)) report(['token'], 'mode static needs token and tokenSecret')
  if (mode === 'per_user') {
    // callbackUrl may be left out: listen.publicUrl or the request names the gateway.
    for (const k of ['requestTokenUrl', 'accessTokenUrl', 'authorizeUrl']) if (p[k] === undefined) report([k], 'is required with token mode per_user')
  }
  return {
    name: str(p.name) ?? '',
    index,
    ...(str(p.provider) !== undefined ? { provider: str(p.provider) as string } : {}),
    consumerKey: str(p.consumerKey) ?? '',
    consumerSecret: str(p.consumerSecret) ?? '',
    signatureMethod: method,
    ...(str(p.privateKey) !== undefined ? { privateKey: abs(str(p.privateKey) as string) } : {}),
    ...(str(p.privateKeyPassphrase) !== undefined ? { privateKeyPassphrase: str(p.privateKeyPassphrase) as string } : {}),
    ...Object.fromEntries(['requestTokenUrl', 'accessTokenUrl', 'authorizeUrl', 'callbackUrl', 'realm', 'endpoint'].filter((k) => str(p[k]) !== undefined).map((k) => [k, str(p[k])])),
    tenancy: (p.tenancy as boolean | undefined) ?? false,
    version: (p.version as boolean | undefined) ?? true,
    bodyHash: (p.bodyHash as boolean | undefined) ?? false,
    placement: (str(p.placement) ?? 'header') as ProfileConfig['placement'],
    token: { mode, ...(str(token.token) !== undefined ? { token: str(token.token) as string } : {}), ...(str(token.tokenSecret) !== undefined ? { tokenSecret: str(token.tokenSecret) as string } : {}) },
    additionalFields: { ...(obj(p.additionalFields) as Record<string, string>) },
    userFields: [...new Set(list(p.userFields))],
    fields: normalizeFields(p.fields, (path, msg) => report(['fields', ...path], msg)),
  }
}

type Report = (path: (string | number)[], msg: string) => void

function normalizeEndpoint(e: Raw, index: number, abs: (p: string) => string, report: Report): EndpointConfig {
  const url = str(e.url) ?? ''
  try {
    const parsed = new URL(url.replaceAll('{tenant}', 'tenant'))
    if (parsed.search || parsed.hash) report(['url'], 'must not carry a query or fragment')
  } catch {
    report(['url'], `not a valid URL: ${url}`)
  }
  const resolveTo = str(e.resolve)
  if (resolveTo !== undefined && isIP(resolveTo) === 0) report(['resolve'], `must be an IPv4 or IPv6 address, got "${resolveTo}"`)
  const timeouts = obj(e.timeouts)
  const ms = (v: unknown, d: string): number => parseDuration((v as string | number | undefined) ?? d)
  return {
    name: str(e.name) ?? '',
    index,
    url: url.replace(/\/+$/, ''),
    hosts: list(e.hosts).map((h) => h.toLowerCase()),
    ...(str(e.pathPrefix) ? { pathPrefix: str(e.pathPrefix) as string } : {}),
    ...(resolveTo ? { resolve: resolveTo } : {}),
    allowPrivate: (e.allowPrivate as boolean | undefined) ?? false,
    tls: normalizeTls(obj(e.tls), abs, (p, m) => report(['tls', ...p], m)),
    timeouts: {
      connectMs: ms(timeouts.connect, '5s'),
      responseMs: ms(timeouts.response, '30s'),
      idleMs: ms(timeouts.idle, '30s'),
      keepAliveMs: ms(timeouts.keepAlive, '60s'),
    },
    connections: (e.connections as number | undefined) ?? 128,
    ...(e.via ? { via: { url: str(obj(e.via).url) as string, ...(str(obj(e.via).username) !== undefined ? { username: str(obj(e.via).username) as string } : {}), ...(str(obj(e.via).password) !== undefined ? { password: str(obj(e.via).password) as string } : {}) } } : {}),
    ...(str(e.profile) !== undefined ? { profile: str(e.profile) as string } : {}),
    fields: normalizeFields(e.fields, (path, msg) => report(['fields', ...path], msg)),
    tenantHeader: (str(e.tenantHeader) ?? 'X-Gateway-Tenant').toLowerCase(),
    tenants: Object.fromEntries(
      Object.entries(obj(e.tenants)).map(([tenant, t]) => [tenant, normalizeTls(obj(obj(t).tls), abs, (p, m) => report(['tenants', tenant, 'tls', ...p], m))]),
    ),
  }
}

function normalizeTls(t: Raw, abs: (p: string) => string, report: Report): EndpointTlsConfig {
  const forms = [t.cert !== undefined || t.key !== undefined, t.pkcs12 !== undefined, t.dir !== undefined].filter(Boolean).length
  if (forms !== 1) report([], 'give exactly one client bundle: cert + key, pkcs12, or dir')
  if ((t.cert === undefined) !== (t.key === undefined)) report([t.cert === undefined ? 'cert' : 'key'], 'is required with cert/key bundles')
  if (t.dir === undefined && t.roots === undefined) report(['roots'], 'is required (the server certificate\'s trust anchors) unless dir provides ca.crt')
  const opt = (k: string): string | undefined => (str(t[k]) === undefined ? undefined : abs(str(t[k]) as string))
  return {
    ...(opt('cert') ? { cert: opt('cert') as string } : {}),
    ...(opt('key') ? { key: opt('key') as string } : {}),
    ...(str(t.keyPassphrase) !== undefined ? { keyPassphrase: str(t.keyPassphrase) as string } : {}),
    intermediates: list(t.intermediates).map(abs),
    ...(opt('pkcs12') ? { pkcs12: opt('pkcs12') as string } : {}),
    ...(str(t.pkcs12Passphrase) !== undefined ? { pkcs12Passphrase: str(t.pkcs12Passphrase) as string } : {}),
    ...(opt('dir') ? { dir: opt('dir') as string } : {}),
    roots: list(t.roots).map(abs),
    clientRoots: list(t.clientRoots).map(abs),
    systemRoots: (t.systemRoots as boolean | undefined) ?? false,
    ...(str(t.serverName) ? { serverName: str(t.serverName) as string } : {}),
    minVersion: (str(t.minVersion) as TlsVersion | undefined) ?? 'TLSv1.2',
    ...(str(t.maxVersion) ? { maxVersion: str(t.maxVersion) as TlsVersion } : {}),
    pins: list(t.pins).map((p) => p.replace(/^sha256\//, '')),
    crl: list(t.crl).map(abs),
  }
}

/** Files a bundle reads, for reload watching. */
export function bundleFiles(t: EndpointTlsConfig): string[] {
  const files = [t.cert, t.key, t.pkcs12, ...t.intermediates, ...t.roots, ...t.clientRoots, ...t.crl]
  if (t.dir) files.push(resolve(t.dir, 'tls.crt'), resolve(t.dir, 'tls.key'), resolve(t.dir, 'ca.crt'))
  return files.filter((f): f is string => typeof f === 'string')
}
