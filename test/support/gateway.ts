/**
 * Start the real gateway in-process from a YAML text, and talk to it the way callers do:
 * as an HTTP proxy (absolute-form) or in route mode.
 */
import { request as httpRequest, type Agent } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { startGateway, type RunningGateway, type StartOptions } from '../../src/cli/gateway-root.js'
import { clientTls, type TestPki } from './pki.js'

/** Writes `yaml` to `<dir>/gateway.yaml` and starts a gateway on 127.0.0.1:0. */
export async function startTestGateway(dir: string, yaml: string, extra: Partial<StartOptions> = {}): Promise<RunningGateway> {
  const configFile = join(dir, 'gateway.yaml')
  writeFileSync(configFile, yaml)
  return startGateway({ configFile, listen: { host: '127.0.0.1', port: 0 }, ...extra })
}

/** An in-process gateway (admin off) with one endpoint, `partner`, calling 127.0.0.1:`port` with the PKI's client bundle under a `timeouts.response` of `responseMs`. */
export function startResponseLimitGateway(pki: TestPki, port: number, responseMs: number): Promise<RunningGateway> {
  return startTestGateway(pki.dir, `admin: { enabled: false }\nendpoints:\n${endpointYaml('partner', port, clientTls(pki), `    timeouts: { response: "${responseMs}ms" }\n`)}`)
}

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** The body's bytes as they came. */
  body: Buffer
  json<T = unknown>(): T
}

export interface SendOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer | Readable
  /** A keep-alive agent to reuse connections; by default each request is a new connection. */
  agent?: Agent
}

/** Sends a request to the gateway with `path` as the request target (absolute-form for proxying). */
export function send(gatewayUrl: string, path: string, o: SendOptions = {}): Promise<Reply> {
  const gw = new URL(gatewayUrl)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: gw.hostname, port: gw.port, method: o.method ?? 'GET', path, headers: o.headers ?? {}, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const text = body.toString('utf8')
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, json: <T>() => JSON.parse(text) as T })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    if (o.body === undefined || typeof o.body === 'string' || Buffer.isBuffer(o.body)) req.end(o.body)
    else o.body.pipe(req)
  })
}

/** One endpoint block of YAML for a test upstream on 127.0.0.1:`port`. */
export function endpointYaml(name: string, port: number, tls: Record<string, string | string[] | boolean>, extra = ''): string {
  const tlsLines = Object.entries(tls).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`).join('\n')
  return `  - name: ${name}\n    url: https://api.partner.test:${port}\n    resolve: 127.0.0.1\n    allowPrivate: true\n${extra}    tls:\n${tlsLines}\n`
}

/**
 * A gateway config tracing every request (ratio 1) to the OTLP/HTTP collector at `collectorUrl`,
 * with one endpoint `partner` on 127.0.0.1:`port`, the admin listener on and callers not required.
 */
export function tracingGatewayYaml(o: { collectorUrl: string; timeout: string; parentBased: boolean; port: number; tls: Record<string, string | string[] | boolean> }): string {
  const tracing = `tracing:\n  enabled: true\n  sampler: { ratio: 1, parentBased: ${o.parentBased} }\n  otlp: { endpoint: "${o.collectorUrl}", timeout: ${o.timeout} }\n`
  return `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ncallers: { required: false }\n${tracing}endpoints:\n${endpointYaml('partner', o.port, o.tls)}`
}
