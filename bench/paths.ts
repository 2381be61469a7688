/**
 * The measured paths: how the load generator reaches the upstream through each, which
 * process's CPU is charged to it, and what the upstream must have seen (client DN, the
 * signature and the header field on the realistic paths).
 */
import { readFileSync } from 'node:fs'
import { Pool, ProxyAgent, type Dispatcher } from 'undici'
import { CLIENTS, HOSTS, type BenchPki } from './pki.js'
import type { GatewayProc } from './gateways.js'
import { BENCH_USER } from './user-gateways.js'
import { UPSTREAM_BODY, type Upstream } from './peers.js'
import type { Target } from './load.js'
import type { Proc } from './procs.js'

export type PathName = 'direct' | 'nginx' | 'undici_forwarder' | 'gateway_mtls' | 'gateway_ops' | 'gateway_realistic' | 'gateway_limits_off' | 'gateway_connect' | 'gateway_user_sqlite' | 'gateway_user_redis' | 'gateway_traced_1pct' | 'gateway_traced_100pct'
export type BodyKind = 'empty' | '64k'
/** A path of this build (a PathName), or `<name>@<tag>` for the same path of another build (--compare). */
export type PathId = string

/** The table label of a path id. */
export function labelOf(id: PathId): string {
  const [name, tag] = id.split('@')
  const base = PATHS.find((p) => p.name === name)?.label ?? name ?? id
  return tag === undefined ? base : `${base} [${tag}]`
}

/** The paths the profiles look into (stage table, perf split) when they run: the floor, the three gateway paths, and the production process on the mTLS-only endpoint (`gateway_ops`: what the production process adds). */
export const PROFILED_PATHS: readonly PathName[] = ['undici_forwarder', 'gateway_mtls', 'gateway_ops', 'gateway_realistic', 'gateway_connect']

/** In table order; `extra` paths run only when named with --paths. */
export const PATHS: readonly { name: PathName; label: string; extra?: true }[] = [
  { name: 'direct', label: 'direct client → upstream (mTLS)' },
  { name: 'nginx', label: 'nginx (mTLS)' },
  { name: 'undici_forwarder', label: 'minimal node:http + undici forwarder (floor)' },
  { name: 'gateway_mtls', label: 'gateway, mTLS only' },
  { name: 'gateway_ops', label: 'gateway, mTLS + log line + metrics', extra: true },
  { name: 'gateway_realistic', label: 'gateway, realistic' },
  { name: 'gateway_limits_off', label: 'gateway, realistic, listener limits off (baseline)' },
  { name: 'gateway_connect', label: 'gateway, CONNECT interception' },
  { name: 'gateway_user_sqlite', label: 'gateway, per-user token from SQLite' },
  { name: 'gateway_user_redis', label: 'gateway, per-user token from Redis' },
  { name: 'gateway_traced_1pct', label: 'gateway, realistic, tracing on, 1 % sampled' },
  { name: 'gateway_traced_100pct', label: 'gateway, realistic, tracing on, 100 % sampled' },
]

export const BODY_64K = Buffer.from(JSON.stringify({ data: 'x'.repeat(64 * 1024 - 12) }))

export interface Processes {
  upstream: Upstream
  nginx: Proc & { port: number }
  bare: GatewayProc
  prod: GatewayProc
  /** Only when the undici_forwarder path runs. */
  forwarder?: GatewayProc
  /** Only when the per-user paths run: the user's token read from this store on every call. */
  userSqlite?: GatewayProc
  userRedis?: GatewayProc
  /** A second prod gateway for CONNECT, so that side by side each path has its own process. */
  connectProd?: GatewayProc
  /** The prod gateway with every listener timeout off: the baseline of the limits' cost. */
  limitsOff?: GatewayProc
  /** Only when the tracing paths run: realistic gateways with tracing on, exporting over OTLP. */
  traced?: { '1pct': GatewayProc; '100pct': GatewayProc }
}

export interface PathSetup {
  /** The process whose CPU the path costs (undefined: direct). */
  proxy: Proc | undefined
  /** A fresh dispatcher + request for one measurement (close the dispatcher after). */
  target(body: BodyKind, users: number): Target
}

/** nginx's $ssl_client_s_dn (RFC 2253 order: last RDN first). */
const dn = (cn: string): string => `O=mtls-gateway bench,CN=${cn}`

/**
 * Which of the two gateways `paths` drive: bare for mTLS only; prod for the ops and realistic paths and
 * CONNECT (unless CONNECT has a process of its own); bare when neither, so that there is always one.
 * A run of a few paths (the smoke test's --compare run is mTLS only) then starts no gateway it never drives.
 */
export function gatewaysNeeded(paths: readonly PathName[], ownConnect: boolean): { bare: boolean; prod: boolean } {
  const prod = paths.some((x) => x === 'gateway_ops' || x === 'gateway_realistic' || (x === 'gateway_connect' && !ownConnect))
  return { bare: paths.includes('gateway_mtls') || !prod, prod }
}

/** Bare and prod for setupPaths when only one of them was started (gatewaysNeeded): it stands in for the other, whose paths are not driven. */
export function bareAndProd(bare: GatewayProc | undefined, prod: GatewayProc | undefined): { bare: GatewayProc; prod: GatewayProc } {
  const one = bare ?? prod
  if (one === undefined) throw new Error('neither the bare nor the production gateway was started')
  return { bare: bare ?? one, prod: prod ?? one }
}

/** One request of a path: a body kind's method, headers and body, and what the upstream must have seen. */
const request = (dispatcher: Dispatcher, origin: string, path: string, body: BodyKind, expect: Record<string, string>): Target => ({
  dispatcher,
  origin,
  path,
  method: body === 'empty' ? 'GET' : 'POST',
  headers: body === 'empty' ? {} : { 'content-type': 'application/json' },
  ...(body === '64k' ? { body: BODY_64K } : {}),
  expect,
  expectBody: UPSTREAM_BODY,
})
/** What the upstream sees of a call without OAuth: the plain client's certificate. */
const plain = { 'x-client-dn': dn(CLIENTS.plain), 'x-oauth': 'none' }

/** A forwarder process as a path (the floor, or the floor-pair sets' probe: pairs.ts, FLOOR_PROBE). */
export function forwarderSetup(f: GatewayProc): PathSetup {
  const origin = `http://127.0.0.1:${f.port}`
  return { proxy: f, target: (body, users) => request(new Pool(origin, { connections: users, pipelining: 1 }), origin, '/bench', body, plain) }
}

/** Builds every path against the running processes (undici_forwarder only when it runs). */
export function setupPaths(pki: BenchPki, p: Processes): Partial<Record<PathName, PathSetup>> {
  const signed = { 'x-client-dn': dn(CLIENTS.signed), 'x-oauth': 'HMAC-SHA1', 'x-partner-key': 'pk-bench-0001' }
  const pool = (port: number, users: number): Pool => new Pool(`http://127.0.0.1:${port}`, { connections: users, pipelining: 1 })
  const realisticOn = (g: GatewayProc): PathSetup => ({ proxy: g, target: (body, users) => request(pool(g.port, users), `http://127.0.0.1:${g.port}`, '/proxy/signed/bench', body, signed) })
  return {
    direct: {
      proxy: undefined,
      target: (body, users) => {
        const c = pki.clients.plain
        const dispatcher = new Pool(`https://127.0.0.1:${p.upstream.port}`, {
          connections: users,
          pipelining: 1,
          connect: { ca: readFileSync(pki.root), cert: readFileSync(c.chain), key: readFileSync(c.key), servername: HOSTS.plain },
        })
        return request(dispatcher, `https://127.0.0.1:${p.upstream.port}`, '/bench', body, plain)
      },
    },
    nginx: { proxy: p.nginx, target: (body, users) => request(pool(p.nginx.port, users), `http://127.0.0.1:${p.nginx.port}`, '/bench', body, plain) },
    ...(p.forwarder ? { undici_forwarder: forwarderSetup(p.forwarder) } : {}),
    ...(p.userSqlite ? { gateway_user_sqlite: userPath(p.userSqlite, request, signed) } : {}),
    ...(p.userRedis ? { gateway_user_redis: userPath(p.userRedis, request, signed) } : {}),
    gateway_mtls: { proxy: p.bare, target: (body, users) => request(pool(p.bare.port, users), `http://127.0.0.1:${p.bare.port}`, '/proxy/plain/bench', body, plain) },
    gateway_ops: { proxy: p.prod, target: (body, users) => request(pool(p.prod.port, users), `http://127.0.0.1:${p.prod.port}`, '/proxy/plain/bench', body, plain) },
    gateway_realistic: realisticOn(p.prod),
    ...(p.limitsOff ? { gateway_limits_off: realisticOn(p.limitsOff) } : {}),
    ...(p.traced ? { gateway_traced_1pct: realisticOn(p.traced['1pct']), gateway_traced_100pct: realisticOn(p.traced['100pct']) } : {}),
    gateway_connect: {
      proxy: p.connectProd ?? p.prod,
      target: (body, users) => {
        const origin = `https://${HOSTS.signed}:${p.upstream.port}`
        const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${(p.connectProd ?? p.prod).port}`, connections: users, pipelining: 1, requestTls: { ca: readFileSync(pki.interceptionCa.caCert), servername: HOSTS.signed } })
        return request(dispatcher, origin, '/bench', body, signed)
      },
    },
  }
}

function userPath(g: GatewayProc, request: (d: Dispatcher, origin: string, path: string, body: BodyKind, expect: Record<string, string>) => Target, expect: Record<string, string>): PathSetup {
  const origin = `http://127.0.0.1:${g.port}`
  return {
    proxy: g,
    target(body, users) {
      const t = request(new Pool(origin, { connections: users, pipelining: 1 }), origin, '/proxy/signed/bench', body, expect)
      return { ...t, headers: { ...t.headers, 'x-gateway-user': BENCH_USER } }
    },
  }
}
