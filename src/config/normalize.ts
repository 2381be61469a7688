/**
 * Schema-valid raw config → GatewayConfig: defaults filled in one place, units parsed,
 * paths made absolute, and the cross-field rules a JSON Schema cannot say well.
 */
import { isIP } from 'node:net'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { parseDuration, parseSize } from './units.js'
import type { EndpointConfig, EndpointTlsConfig, GatewayConfig, TlsVersion } from './types.js'
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
  const names = new Map<string, number>()
  for (const e of endpoints) {
    const first = names.get(e.name)
    if (first !== undefined) {
      problems.push(ctx.source.problem(['endpoints', e.index, 'name'], `duplicate endpoint name "${e.name}" (also endpoints[${first}])`))
    }
    names.set(e.name, e.index)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  const files = new Set(ctx.files)
  files.add(ctx.file)
  for (const e of endpoints) for (const f of bundleFiles(e.tls)) files.add(f)
  return {
    file: ctx.file,
    files: [...files],
    secrets: [...new Set(ctx.secrets)],
    listen: { host: str(listen.host) ?? '0.0.0.0', port: (listen.port as number | undefined) ?? 8080 },
    admin: {
      host: str(admin.host) ?? '127.0.0.1',
      port: (admin.port as number | undefined) ?? 9090,
      enabled: (admin.enabled as boolean | undefined) ?? true,
    },
    limits: { maxBufferedBody: parseSize((obj(root.limits).maxBufferedBody as string | number | undefined) ?? '10MiB') },
    forwarding: {
      xForwardedFor: (forwarding.xForwardedFor as boolean | undefined) ?? false,
      via: (forwarding.via as boolean | undefined) ?? true,
    },
    endpoints,
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
