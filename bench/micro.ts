/**
 * `node dist/bench/micro.js [other-dist …]`: CPU per call of the gateway's own per-request
 * work outside any server — the access-log line, the metrics of a finished request, an OAuth
 * 1.0a signature, reading the caller's client certificate — for this build and each other build given (its dist/), rounds interleaved.
 * CPU time (process.cpuUsage), not wall time, so a busy machine skews it far less; each figure
 * is the median of the rounds, and each other build's column beside this one the median of the
 * rounds' ratios (this build's figure over its). How docs/performance.md measures each change on its own.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { connect, createServer, type TLSSocket } from 'node:tls'
import { DIST, gatewayYaml } from './gateways.js'
import type { Upstream } from './peers.js'
import { HOSTS, writeBenchPki, type BenchPki } from './pki.js'

interface Case {
  name: string
  run: () => void | Promise<void>
  /** Awaited like the pipeline awaits a step: only when run returns something. */
  async?: boolean
}

// MICRO_ROUNDS=<n>: more rounds when the machine is noisy.
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 7)
const CALLS = 20_000

/** The server side of a TLS 1.3 connection whose client presented a certificate (and the closer of both). */
async function mtlsConnection(pki: BenchPki, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<{ socket: TLSSocket; close(): void }> {
  const file = (f: string): Buffer => readFileSync(f)
  const server = createServer({ cert: file(pki.serverChain), key: file(pki.serverKey), ca: file(pki.root), requestCert: true, rejectUnauthorized: true, maxVersion })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const accepted = new Promise<TLSSocket>((resolve) => server.once('secureConnection', resolve))
  const client = connect({ port, host: '127.0.0.1', servername: 'api.bench.test', ca: file(pki.root), cert: file(pki.clients.plain.chain), key: file(pki.clients.plain.key) })
  client.on('error', () => {})
  const socket = await accepted
  return { socket, close: () => (client.destroy(), server.close()) }
}

/**
 * The realistic path's request work before the dial, on a gateway compiled from the bench's own
 * config (the "signed" endpoint: OAuth 1.0a HMAC-SHA1 in the header, one header field), route
 * mode: matching and building the destination, then the token, fields and signing steps.
 */
async function pipelineCases(dist: string, pki: BenchPki, dir: string): Promise<{ cases: Case[]; close(): Promise<void> }> {
  type Context = import('../src/proxy/pipeline.js').Context
  type Admitted = import('../src/proxy/pipeline.js').Admitted
  const config = (await import(join(dist, 'src/config/index.js'))) as typeof import('../src/config/index.js')
  const gw = (await import(join(dist, 'src/gateway/index.js'))) as typeof import('../src/gateway/index.js')
  const match = (await import(join(dist, 'src/proxy/steps/match-endpoint.js'))) as typeof import('../src/proxy/steps/match-endpoint.js')
  const target = (await import(join(dist, 'src/proxy/upstream-target.js'))) as typeof import('../src/proxy/upstream-target.js')
  const token = (await import(join(dist, 'src/proxy/steps/resolve-token.js'))) as typeof import('../src/proxy/steps/resolve-token.js')
  const fields = (await import(join(dist, 'src/proxy/steps/apply-authorization.js'))) as typeof import('../src/proxy/steps/apply-authorization.js')
  const sign = (await import(join(dist, 'src/proxy/steps/sign-oauth1.js'))) as typeof import('../src/proxy/steps/sign-oauth1.js')
  const admit = (await import(join(dist, 'src/proxy/steps/authenticate-caller.js'))) as typeof import('../src/proxy/steps/authenticate-caller.js')
  const strip = (await import(join(dist, 'src/proxy/steps/strip-gateway-credentials.js'))) as typeof import('../src/proxy/steps/strip-gateway-credentials.js')
  const requestId = (await import(join(dist, 'src/proxy/request-id.js'))) as typeof import('../src/proxy/request-id.js')
  const requestTarget = (await import(join(dist, 'src/proxy/request-target.js'))) as typeof import('../src/proxy/request-target.js')
  const outbound = (await import(join(dist, 'src/proxy/outbound-request.js'))) as typeof import('../src/proxy/outbound-request.js')
  const file = join(dir, 'micro-gateway.yaml')
  const gateway = gw.compileGateway(config.parseConfig(file, gatewayYaml(pki, { port: 9443 } as Upstream, 9080, 9081)))
  const body: Context['outbound']['body'] = { present: false, stream: undefined, buffered: undefined, bytes: () => Promise.resolve(Buffer.alloc(0)), replace: () => {} }
  const inboundHeaders = { host: '127.0.0.1:9080', accept: 'application/json', 'user-agent': 'bench/1.0' }
  const rawHeaders = Object.entries(inboundHeaders).flat()
  // Literals, as the listener builds them: an object made by a spread and then extended (matchEndpoint adds
  // the routing fields) is slow on Node 20 and would be measured instead of the steps (test/object-shapes.test.ts).
  const context = (target: Context['inbound']['target'], route: Context['route'] = { endpoint: 'signed', path: '/v1/items/42' }): Context => ({
    id: 'req-1',
    mode: 'route',
    gateway,
    inbound: { method: 'GET', target, headers: inboundHeaders, rawHeaders },
    route,
    // Neither is read by these steps; older builds (--compare) named the field `signal`.
    presence: undefined as unknown as Context['presence'],
    ...({ signal: undefined } as object),
    facts: {},
    auth: {},
    outbound: { method: 'GET', url: new URL('https://unrouted.invalid/'), headers: { ...inboundHeaders }, body },
  })
  // Route mode's target is the rest of the path after /proxy/<endpoint>.
  const routed = (query = '?expand=owner&limit=20'): ReturnType<typeof match.matchEndpoint> => {
    return match.matchEndpoint(context({ path: '/v1/items/42', query }))
  }
  const fixed = routed()
  // The same request as the realistic path's (`/proxy/signed/bench`) and as an intercepted tunnel's inner request
  // (`GET /bench`, Host the tunnel's authority): its target parsed, then its endpoint matched and destination built.
  const routedWhole = (): ReturnType<typeof match.matchEndpoint> => {
    const { route, target } = requestTarget.parseRoute('/proxy/signed/bench')
    return match.matchEndpoint(context(target, route))
  }
  const authority = `${HOSTS.signed}:9443`
  const tunnelHeaders = { ...inboundHeaders, host: authority }
  const tunnelRaw = Object.entries(tunnelHeaders).flat()
  const tunnelled = (): ReturnType<typeof match.matchEndpoint> => {
    const target = requestTarget.parseTunnelTarget('/bench', authority, authority, 'GET')
    // A literal as the listener's: connect mode, no route (a context extended afterwards would be measured instead).
    return match.matchEndpoint({ id: 'req-1', mode: 'connect', gateway, inbound: { method: 'GET', target, headers: tunnelHeaders, rawHeaders: tunnelRaw }, presence: undefined as unknown as Context['presence'], facts: {}, auth: {}, outbound: { method: 'GET', url: new URL('https://unrouted.invalid/'), headers: { ...tunnelHeaders }, body } })
  }
  // The realistic path's request (`/proxy/signed/bench`): no query.
  const fixedNoQuery = routed('')
  const caller = { appId: 'anonymous', claims: {} }
  // A fresh request state per call on the routed context (the steps add headers, token, redactions).
  const admitted = (from = fixed): Admitted => Object.assign({}, from, { caller, auth: {}, facts: {}, outbound: Object.assign({}, from.outbound, { headers: Object.assign({}, inboundHeaders) }) }) as unknown as Admitted
  const run = async (steps: readonly { run(ctx: Admitted): void | Promise<void> }[]): Promise<void> => {
    const ctx = admitted()
    for (const step of steps) {
      const pending = step.run(ctx)
      if (pending !== undefined) await pending
    }
  }
  // A forward-proxy caller's request as curl and a client library send it: its bearer, its user and a
  // dozen other lines. What admission, strip_gateway_credentials and resolve_token read of it (each
  // a single-valued header: a build that counts repeats scans the raw lines of the credentials).
  const callerHeaders = {
    host: 'api.bench.test',
    'user-agent': 'bench/1.0',
    accept: 'application/json',
    'accept-encoding': 'gzip, deflate, br',
    'accept-language': 'en-GB, en;q=0.8',
    'proxy-authorization': 'Bearer gw_benchbearer0000000000000000000000000001',
    'x-gateway-user': 'alice@example.test',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'x-request-id': 'bench-1',
    'content-type': 'application/json',
    'cache-control': 'no-cache',
    'x-correlation-id': 'corr-1',
  }
  const callerRaw = Object.entries(callerHeaders).flatMap(([n, v]) => [n.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase()), v])
  const callerCtx = Object.assign({}, fixed, { caller, inbound: Object.assign({}, fixed.inbound, { headers: callerHeaders, rawHeaders: callerRaw }) }) as unknown as Admitted
  const readCallerHeaders = (): void => void (admit.credentialOf(callerCtx), admit.presentedCredentials(callerCtx), token.userOf(callerCtx))
  // strip_gateway_credentials on that request's outbound copy (Proxy-Authorization already gone as hop-by-hop):
  // nothing in it is a credential, so the step removes nothing and the same context serves every call.
  const { 'proxy-authorization': _presented, ...outboundCaller } = callerHeaders
  const stripCtx = (extra: Record<string, string>): Admitted =>
    Object.assign({}, callerCtx, { outbound: Object.assign({}, fixed.outbound, { headers: Object.assign({}, outboundCaller, extra) }) }) as unknown as Admitted
  const plainStrip = stripCtx({})
  // A backend's own 43-character base64url tokens (a session cookie, its Authorization bearer): each is hashed.
  const tokenLikeStrip = stripCtx({ cookie: 'theme=dark; session=Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx', authorization: 'Bearer QmFja2VuZE93blRva2VuMDAwMDAwMDAwMDAwMDAwMDA' })
  // The caller's own X-Request-Id (a UUID) beside its bearer: what requestIdOf reads of the listener's request.
  const withId = { headers: { ...callerHeaders, 'x-request-id': '3f6c1a52-9a0e-4c36-b1d5-0d2f7f3e8a41' }, rawHeaders: callerRaw } as unknown as import('node:http').IncomingMessage
  // The listener's lazily parsed outbound request, routed to the signed endpoint's target: what the signer reads of its URL.
  const signedUrl = (): number => {
    const o = new outbound.OutboundRequest('GET', {}, body)
    outbound.routeOutbound(o, fixed.target)
    return outbound.outboundUrlToSign(o).host.length
  }
  const resolveToken = token.createResolveToken()
  const signStep = sign.createSignOAuth1()
  const signed = (from = fixed): Admitted => {
    const ctx = admitted(from)
    ctx.auth.token = { token: 'benchaccesstoken000001', tokenSecret: 'bench-token-secret' }
    return ctx
  }
  // As the listener hands it over: an OutboundRequest routed to the target, its URL not parsed.
  const signedAsListened = (): Admitted => {
    const ctx = signed(fixedNoQuery)
    const listened = new outbound.OutboundRequest('GET', ctx.outbound.headers, body)
    listened.routeTo(fixedNoQuery.target)
    ctx.outbound = listened
    return ctx
  }
  return {
    cases: [
      { name: 'route + target (matchEndpoint, route mode, query)', run: () => void routed() },
      { name: 'route mode, target parsed and matched (parseRoute + matchEndpoint)', run: () => void routedWhole() },
      { name: "tunnel's inner request, target parsed and matched (parseTunnelTarget + matchEndpoint)", run: () => void tunnelled() },
      { name: "caller's bearer, credentials and user read (12 header lines)", run: readCallerHeaders },
      { name: 'strip_gateway_credentials step (11 outbound header lines, route-mode query)', run: () => void strip.stripGatewayCredentials.run(plainStrip) },
      { name: 'strip_gateway_credentials step (13 lines, two 43-character backend tokens)', run: () => void strip.stripGatewayCredentials.run(tokenLikeStrip) },
      { name: "request id: the caller's X-Request-Id judged (12 header lines)", run: () => void requestId.requestIdOf(withId, undefined) },
      { name: 'destination check before the dial (assertDestination)', run: () => target.assertDestination(fixed.target, fixed.outbound.url) },
      { name: "the signer's URL parts of a routed request (urlToSign)", run: () => void signedUrl() },
      { name: 'sign_oauth1 step (HMAC-SHA1, header, static token)', run: () => void signStep.run(signed()) },
      { name: 'sign_oauth1 step, no query (the realistic path)', run: () => void signStep.run(signed(fixedNoQuery)) },
      { name: "sign_oauth1 step, no query, on the listener's OutboundRequest", run: () => void signStep.run(signedAsListened()) },
      { name: 'apply_authorization step (one header field)', run: () => void fields.applyAuthorization.run(admitted(fixedNoQuery)) },
      { name: 'token + fields steps, awaited as the pipeline does', async: true, run: () => run([resolveToken, fields.applyAuthorization]) },
      { name: 'token + fields + sign steps, awaited as the pipeline does', async: true, run: () => run([resolveToken, fields.applyAuthorization, signStep]) },
    ],
    close: () => gateway.close(),
  }
}

async function casesOf(dist: string, conn: TLSSocket, conn12: TLSSocket): Promise<Case[]> {
  const log = (await import(join(dist, 'src/ops/log.js'))) as typeof import('../src/ops/log.js')
  const metrics = (await import(join(dist, 'src/ops/metrics.js'))) as typeof import('../src/ops/metrics.js')
  const oauth1 = (await import(join(dist, 'src/oauth1/index.js'))) as typeof import('../src/oauth1/index.js')
  const tls = (await import(join(dist, 'src/tls/server.js'))) as typeof import('../src/tls/server.js')
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  const l = log.createLog({ destination: sink as unknown as import('pino').DestinationStream }, ['s3cr3t-consumer', 'pk-bench-0001'])
  const m = metrics.createMetrics({ defaultMetrics: false })
  let i = 0
  const record = (): Parameters<typeof l.access>[0] => ({ id: `req-${i++}`, mode: 'route', method: 'GET', status: 200, durationMs: 1.234, facts: { endpoint: 'signed', caller: 'anonymous', upstreamMs: 0.8 }, requestBytes: 310, responseBytes: 420 })
  const up = { address: '127.0.0.1', tlsVersion: 'TLSv1.3', reused: true, resumed: false, handshakeMs: 3.2 }
  const url = new URL('https://signed.bench.test:8443/bench?a=1')
  return [
    { name: 'access log line', run: () => l.access(record(), up) },
    {
      name: 'metrics of one request',
      run: () => {
        m.inFlight(1)
        m.upstreamReuse('signed')
        m.oauthSignature('bench', 'HMAC-SHA1')
        m.request('signed', 'GET', 200, 1.2, 0.8, { mode: 'route', requestBytes: 310, responseBytes: 420 })
        m.inFlight(-1)
      },
    },
    {
      name: 'OAuth 1.0a HMAC-SHA1 signature (header, URL object as the step passes it)',
      run: () =>
        void oauth1.signRequest({ method: 'GET', url, consumerKey: 'ck-bench', consumerSecret: 's3cr3t-consumer', token: 'tk-bench', tokenSecret: 'tk-secret', signatureMethod: 'HMAC-SHA1', includeVersion: true, bodyHash: false, placement: 'header' }),
    },
    { name: "caller's client certificate (TLS 1.3 listener, per request)", run: () => void tls.peerIdentity(conn) },
    { name: "caller's client certificate (TLS 1.2 listener, per request)", run: () => void tls.peerIdentity(conn12) },
  ]
}

async function cpuPerCall(c: Case): Promise<number> {
  const t0 = process.cpuUsage()
  if (c.async === true) {
    for (let n = 0; n < CALLS; n++) {
      const pending = c.run()
      if (pending !== undefined) await pending
    }
  } else {
    for (let n = 0; n < CALLS; n++) void c.run()
  }
  const t = process.cpuUsage(t0)
  return (t.user + t.system) / CALLS
}

const builds = [DIST, ...process.argv.slice(2)]
const pkiDir = mkdtempSync(join(tmpdir(), 'mtlsgw-micro-'))
// MICRO_CASES=<regexp>: measure only the cases whose name matches (e.g. "sign|route").
const only = process.env.MICRO_CASES === undefined ? undefined : new RegExp(process.env.MICRO_CASES, 'i')
const pki = await writeBenchPki(pkiDir)
const mtls = await mtlsConnection(pki, 'TLSv1.3')
const mtls12 = await mtlsConnection(pki, 'TLSv1.2')
const pipelines = await Promise.all(builds.map((b) => pipelineCases(b, pki, pkiDir)))
const suites = await Promise.all(builds.map(async (b, k) => [...(await casesOf(b, mtls.socket, mtls12.socket)), ...(pipelines[k]?.cases ?? [])].filter((c) => only === undefined || only.test(c.name))))
const figures = suites.map((cases) => cases.map(() => [] as number[]))
// One case at a time (its rounds interleaved across builds): the garbage one case leaves, e.g. the
// old certificate reads, is collected while that case is measured, not charged to the next.
for (const k of (suites[0] ?? []).keys()) {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [b, cases] of suites.entries()) {
      const c = cases[k]
      if (c) figures[b]?.[k]?.push(await cpuPerCall(c))
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
// Each other build against this one round by round (the rounds were interleaved, so a round's two figures saw the same machine).
const paired = (k: number, b: number): string => {
  const ours = figures[0]?.[k] ?? []
  const theirs = figures[b]?.[k] ?? []
  const ratios = ours.map((x, r) => x / (theirs[r] as number))
  return `${median(ratios).toFixed(3)} × (${ratios.filter((x) => x < 1).length} of ${ratios.length} lower)`
}
const others = builds.slice(1)
process.stdout.write(`| work (µs CPU per call, median of ${ROUNDS} × ${CALLS}) | ${builds.map((b, k) => (k === 0 ? 'this build' : b)).join(' | ')} |${others.map((b) => ` this / ${b}, per round |`).join('')}\n|---|${builds.map(() => '--:').join('|')}|${others.map(() => '--:|').join('')}\n`)
for (const [k, c] of (suites[0] ?? []).entries()) process.stdout.write(`| ${c.name} | ${figures.map((f) => median(f[k] ?? []).toFixed(2)).join(' | ')} |${others.map((_, i) => ` ${paired(k, i + 1)} |`).join('')}\n`)
mtls.close()
mtls12.close()
await Promise.all(pipelines.map((p) => p.close()))
rmSync(pkiDir, { recursive: true, force: true })
