/**
 * An endpoint's connection test (`mtls-gateway test-endpoint`, the console's Test connection):
 * one GET of the endpoint's base path over a new connection, dialled exactly as the endpoint's
 * pool dials (the same connector: egress policy, `resolve`, `via`, SNI, roots, pins, CRLs, the
 * client bundle) but outside it and with no cached session, so the whole exchange runs again:
 * the gateway requests the endpoint, the server presents its certificate, the gateway verifies
 * it, sends its client certificate, and the server verifies that and answers. The report says
 * which of those five steps failed, in the words a request's 502 would use. Any HTTP answer
 * means the server accepted the certificate, except nginx's refusal page (nginx-refusal.ts).
 * Nothing is pooled, counted in the traffic metrics, or kept.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls'
import { canonicalTenant, TENANT_RULE } from '../config/index.js'
import { GatewayError, type Reason } from '../errors.js'
import type { Client } from 'undici'
import { newClient, type Endpoint, type Gateway, type Upstream } from '../gateway/index.js'
import { classifyUpstreamError, oneLine } from '../tls/index.js'
import { mayBeNginxRefusal, nginxRefusal, nginxRefusalText } from './nginx-refusal.js'
import type { OutboundHeaders } from './pipeline.js'

/** The five steps of the mutual-TLS exchange, in order. */
export const CONNECTION_STEPS = [
  'the gateway requests the endpoint',
  'the server presents its certificate',
  'the gateway verifies it',
  'the gateway sends its client certificate',
  'the server verifies it and grants access',
] as const

/** One step's outcome: done, failed (with the error), or not reached after a failure. */
export interface ConnectionStep {
  step: (typeof CONNECTION_STEPS)[number]
  result: 'ok' | 'failed' | 'not reached'
  /** What was seen: the address dialled, a certificate's subject and issuer, the answer's status. */
  detail?: string
}

export interface ConnectionTestReport {
  ok: boolean
  endpoint: string
  tenant?: string
  /** What was requested: the endpoint's URL for the tenant. */
  url: string
  steps: ConnectionStep[]
  /** The failure, as a request would get it (reason and message; never a secret). */
  error?: { reason: Reason; msg: string }
  /** Time from the dial to the answer's head. */
  ms: number
}

/** How long the test waits at most for its answer, whatever the endpoint's timeouts. */
const MAX_WAIT_MS = 30_000

/** The step (0-based) a failure that came before a connection was made belongs to; the rest fail at the server's answer. */
function stepOfDialFailure(reason: Reason): number {
  if (reason === 'client_cert_expired' || reason === 'client_cert_not_yet_valid') return 3
  if (reason === 'upstream_client_cert_rejected') return 4
  if (reason.startsWith('upstream_cert_') || reason === 'upstream_hostname_mismatch' || reason === 'upstream_pin_mismatch' || reason === 'server_roots_not_valid' || reason === 'server_crl_not_valid') return 2
  if (reason === 'upstream_tls_version_refused' || reason === 'upstream_tls_failed') return 1
  return 0
}

/** A peer certificate's name, as `oneLine` writes a bundle's ("CN=…, O=…"). */
const dn = (name: Record<string, unknown> | undefined): string => Object.entries(name ?? {}).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(', ') || 'an empty name'

/** What the connection showed: the address, the server's certificate, the TLS version. */
interface Seen {
  address?: string
  server?: PeerCertificate
  protocol?: string | null
}

function stepsOf(seen: Seen, clientSubject: string, failedAt: number | undefined, status: number | undefined): ConnectionStep[] {
  const details = [
    seen.address !== undefined ? `connected to ${seen.address}` : undefined,
    seen.server ? `${dn(seen.server.subject as unknown as Record<string, unknown>)}, issued by ${dn(seen.server.issuer as unknown as Record<string, unknown>)}, valid until ${new Date(seen.server.valid_to).toISOString()}` : undefined,
    seen.server ? `chain, name and pins accepted (${seen.protocol ?? 'TLS'})` : undefined,
    clientSubject,
    status !== undefined ? `HTTP ${status}` : undefined,
  ]
  return CONNECTION_STEPS.map((step, i) => {
    const result = failedAt === undefined || i < failedAt ? 'ok' : i === failedAt ? 'failed' : 'not reached'
    const detail = details[i]
    return { step, result, ...(detail !== undefined && result !== 'not reached' ? { detail } : {}) }
  })
}

/** The endpoint (and its tenant's bundle) a test names; 404 for an unknown endpoint, 400 for a tenant the endpoint cannot take. */
function testedEndpoint(gateway: Gateway, endpointName: string, tenantGiven: string | undefined): { endpoint: Endpoint; tenant: string | undefined } {
  const endpoint = gateway.endpoints.get(endpointName)
  if (!endpoint) throw new GatewayError('not_found', `no endpoint named "${endpointName}"`)
  if (tenantGiven === undefined || tenantGiven === '') {
    if (endpoint.url.includes('{tenant}')) throw new GatewayError('tenant_invalid', `endpoint "${endpoint.name}" has {tenant} in its URL: name the tenant to test`)
    return { endpoint, tenant: undefined }
  }
  const tenant = canonicalTenant(tenantGiven)
  if (tenant === undefined) throw new GatewayError('tenant_invalid', `tenant ${JSON.stringify(tenantGiven)} is not valid: ${TENANT_RULE}`)
  return { endpoint, tenant }
}

/** A one-connection client to `origin` over the upstream's fresh connector, noting in `seen` what the connection showed. */
function freshClient(endpoint: Endpoint, upstream: Upstream, origin: string, seen: Seen): Client {
  const connector = upstream.freshConnector()
  const { responseMs, idleMs } = endpoint.config.timeouts
  return newClient(origin, {
    connect: (opts, callback) =>
      connector(opts, (...args) => {
        const [err, socket] = args
        if (!err && socket) {
          const tls = socket as TLSSocket
          seen.address = `${tls.remoteAddress ?? '?'}:${tls.remotePort ?? '?'}`
          seen.server = tls.getPeerCertificate()
          seen.protocol = tls.getProtocol()
        }
        callback(...args)
      }),
    headersTimeout: Math.min(responseMs || MAX_WAIT_MS, MAX_WAIT_MS),
    bodyTimeout: Math.min(idleMs || MAX_WAIT_MS, MAX_WAIT_MS),
    pipelining: 1,
  })
}

/** Tests one endpoint's connection (its tenant's bundle when it has one); throws GatewayError only for a request the test cannot make. */
export async function testEndpointConnection(gateway: Gateway, endpointName: string, tenantGiven?: string): Promise<ConnectionTestReport> {
  const { endpoint, tenant } = testedEndpoint(gateway, endpointName, tenantGiven)
  const own = tenant === undefined ? undefined : endpoint.tenantUpstreams.get(tenant)
  const upstream = own?.upstream ?? endpoint.upstream
  const bundle = own?.bundle ?? endpoint.bundle
  const base = endpoint.destination.at(tenant)
  const path = base.path === '' ? '/' : base.path
  const started = performance.now()
  const seen: Seen = {}
  const report = (failedAt: number | undefined, status?: number, error?: GatewayError): ConnectionTestReport => ({
    ok: error === undefined,
    endpoint: endpoint.name,
    ...(tenant !== undefined ? { tenant } : {}),
    url: `${base.origin}${path}`,
    steps: stepsOf(seen, oneLine(bundle.leaf.subject), failedAt, status),
    ...(error ? { error: { reason: error.reason, msg: error.message } } : {}),
    ms: Math.round(performance.now() - started),
  })
  const refusal = upstream.refusal()
  if (refusal) return report(stepOfDialFailure(refusal.reason), undefined, refusal)
  const client = freshClient(endpoint, upstream, base.origin, seen)
  try {
    const answer = await client.request({ method: 'GET', path, headers: { accept: '*/*', 'user-agent': 'mtls-gateway connection test' } })
    const nginx = answer.statusCode === 400 && mayBeNginxRefusal(answer.headers as OutboundHeaders) ? nginxRefusalText(Buffer.from(await answer.body.arrayBuffer())) : undefined
    // Read and dropped (at most 64 KiB; a longer body is cut, which the test does not need).
    if (nginx === undefined) await answer.body.dump({ limit: 65_536 })
    return nginx !== undefined ? report(4, 400, nginxRefusal(endpoint.name, nginx)) : report(undefined, answer.statusCode)
  } catch (err) {
    const error = classifyUpstreamError(err, endpoint.name)
    // Once connected (steps 1–4 done), whatever fails is the server's answer.
    return report(seen.address !== undefined ? 4 : stepOfDialFailure(error.reason), undefined, error)
  } finally {
    client.destroy().catch(() => undefined)
  }
}

/** What `--all` tests: every endpoint, and every tenant bundle of it; a `{tenant}` URL without one names no tenant to test. */
export type ConnectionTestTarget = { endpoint: string; tenant?: string } | { endpoint: string; skipped: string }

/** Every endpoint's connection, and each tenant bundle's: in config order. */
export function connectionTestTargets(gateway: Gateway): ConnectionTestTarget[] {
  return [...gateway.endpoints.values()].flatMap((e): ConnectionTestTarget[] => {
    const tenants = [...e.tenantUpstreams.keys()].map((tenant) => ({ endpoint: e.name, tenant }))
    if (!e.url.includes('{tenant}')) return [{ endpoint: e.name }, ...tenants]
    return tenants.length > 0 ? tenants : [{ endpoint: e.name, skipped: 'its URL has {tenant} and it has no tenant bundle: name a tenant with --tenant' }]
  })
}

/** How many tests run at once with `--all` (each holds one connection). */
const AT_ONCE = 8

/** Tests every target, at most AT_ONCE at a time; the reports (or skips) in the targets' order. */
export async function testAllConnections(gateway: Gateway): Promise<(ConnectionTestReport | { endpoint: string; skipped: string })[]> {
  const targets = connectionTestTargets(gateway)
  const out: (ConnectionTestReport | { endpoint: string; skipped: string })[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < targets.length; i = next++) {
      const t = targets[i] as ConnectionTestTarget
      out[i] = 'skipped' in t ? t : await testEndpointConnection(gateway, t.endpoint, t.tenant)
    }
  }
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, targets.length) }, worker))
  return out
}

/** The report as `test-endpoint` prints it: a verdict line, the five steps, the error. */
export function formatConnectionTest(r: ConnectionTestReport): string {
  const who = `endpoint "${r.endpoint}"${r.tenant !== undefined ? ` tenant "${r.tenant}"` : ''} (${r.url}), ${r.ms} ms`
  const steps = r.steps.map((s, i) => `  ${i + 1}. ${s.result.padEnd(11)} ${s.step}${s.detail !== undefined ? `: ${s.detail}` : ''}`)
  return [`Connection Test ${r.ok ? 'Passed' : 'Failed'}: ${who}`, ...steps, ...(r.error ? [`error (${r.error.reason}): ${r.error.msg}`] : []), ''].join('\n')
}
