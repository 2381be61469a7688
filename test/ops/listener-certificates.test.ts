/**
 * A renewed listener certificate (the files of `listen.tls` and `admin.tls`) reaches new
 * connections on reload, as a fresh start with the same files would serve it: in one process,
 * in both workers and on the primary's admin listener with `--workers 2`. A connection opened
 * before keeps working; a key that does not match its certificate fails the reload and the old
 * certificate stays. The client that reads the served certificate is the real `openssl s_client`.
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import type { ClientRequest } from 'node:http'
import { Agent, request as httpsRequest } from 'node:https'
import { afterEach, describe, expect, it } from 'vitest'
import { privateKeyPem, type Issued } from '../../src/tls/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import { eventually, parseMetrics, replaceFile, startOpsGateway, valueOf } from './helpers.js'

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Setup {
  pki: TestPki
  upstream: RunningServer
  renewed: Issued
  yaml: string
}

/** Listener and admin certificates in their own files, both first the PKI's server certificate. */
async function setup(listen: string): Promise<Setup> {
  const pki = await createTestPki()
  const upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  cleanup.push(() => pki.cleanup(), () => upstream.close())
  for (const name of ['listener', 'admin']) pki.writePair(name, pki.server, { chain: [pki.inter] })
  const renewed = await pki.issue({ subject: 'CN=gateway-renewed,O=mtls-gateway tests', issuer: pki.inter, usages: ['serverAuth'], names: ['localhost', '127.0.0.1'], notAfter: new Date(Date.now() + 40 * 86_400_000) })
  const tls = clientTls(pki)
  const yaml = `listen: ${listen}\nadmin: { port: 0, tls: { cert: ${pki.file('admin.crt')}, key: ${pki.file('admin.key')} } }\nendpoints:\n${endpointYaml('partner', upstream.port, tls)}`
  return { pki, upstream, renewed, yaml: yaml.replace('LISTENER_TLS', `tls: { cert: ${pki.file('listener.crt')}, key: ${pki.file('listener.key')} }`) }
}

/** The subject CN of the certificate `openssl s_client` is served on a fresh connection, and whether it verified against the root (`-brief` reports on stderr). */
function served(port: number, pki: TestPki): Promise<{ cn: string; verified: boolean }> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', pki.file('root.crt'), '-brief'], { timeout: 20_000 }, (err, stdout, stderr) => {
      const text = `${stdout}\n${stderr}`
      const peer = text.split('\n').find((l) => /Peer certificate:/i.test(l))
      if (!peer) return reject(new Error(`openssl s_client saw no certificate on port ${port}${err ? ` (${err.message})` : ''}:\n${text}`))
      resolve({ cn: /CN\s*=\s*([^,/\n]+)/.exec(peer)?.[1]?.trim() ?? peer, verified: /Verification: OK/.test(text) })
    })
    child.stdin?.end()
  })
}

const renew = (pki: TestPki, base: string, cert: Issued): void => {
  replaceFile(pki.file(`${base}.key`), privateKeyPem(cert))
  replaceFile(pki.file(`${base}.crt`), cert.pem + pki.inter.pem)
}

const portOf = (url: string): number => Number(new URL(url).port)

/** The listeners' expiry gauges, scraped over the admin listener's HTTPS. */
function listenerExpiries(adminUrl: string, pki: TestPki): Promise<Record<string, number | undefined>> {
  return new Promise((resolve, reject) => {
    httpsRequest(`${adminUrl}/metrics`, { ca: pki.root.pem, servername: 'localhost', agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const all = parseMetrics(Buffer.concat(chunks).toString('utf8'))
        const at = (kind: string): number | undefined => valueOf(all, 'mtls_gateway_certificate_expiry_timestamp_seconds', { endpoint: '', kind })
        resolve({ listener: at('listener'), admin_listener: at('admin_listener') })
      })
    }).on('error', reject).end()
  })
}

/** X509Certificate#validToDate: Node 22.10 and later (the tests run on 24); @types/node 20 lacks it. */
type X509WithDates = X509Certificate & { readonly validToDate: Date }
const expiry = (cert: Issued): number => Math.floor((new X509Certificate(cert.pem) as X509WithDates).validToDate.getTime() / 1000)

describe('listener certificates follow a reload', () => {
  it('one process: new connections to both listeners get the renewed certificate, an open one keeps working', async () => {
    const { pki, renewed, yaml } = await setup('{ LISTENER_TLS }')
    const g = await startOpsGateway(pki.dir, yaml)
    cleanup.push(() => g.gw.close())
    const proxyPort = g.gw.port
    const adminPort = portOf(g.adminUrl)
    expect(g.gw.url).toMatch(/^https:/)
    expect(await served(proxyPort, pki)).toEqual({ cn: 'api.partner.test', verified: true })
    expect(await served(adminPort, pki)).toEqual({ cn: 'api.partner.test', verified: true })
    // A kept-alive caller connection from before the renewal.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pki.root.pem, servername: 'localhost' })
    cleanup.push(() => agent.destroy())
    const call = (): Promise<{ status: number; reused: boolean }> =>
      new Promise((resolve, reject) => {
        httpsRequest({ host: '127.0.0.1', port: proxyPort, path: '/proxy/partner/open', agent }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: (res as typeof res & { req: ClientRequest }).req.reusedSocket }))
        }).on('error', reject).end()
      })
    expect((await call()).status).toBe(200)
    // What an expiry alert watches: the certificates the listeners serve.
    expect(await listenerExpiries(g.adminUrl, pki)).toEqual({ listener: expiry(pki.server), admin_listener: expiry(pki.server) })
    const before = g.gw.ref.current
    renew(pki, 'listener', renewed)
    renew(pki, 'admin', renewed)
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload')
    expect(await served(proxyPort, pki)).toEqual({ cn: 'gateway-renewed', verified: true })
    expect(await served(adminPort, pki)).toEqual({ cn: 'gateway-renewed', verified: true })
    const again = await call()
    expect(again).toEqual({ status: 200, reused: true })
    expect(await listenerExpiries(g.adminUrl, pki)).toEqual({ listener: expiry(renewed), admin_listener: expiry(renewed) })
    expect(expiry(renewed)).not.toBe(expiry(pki.server))
  })

  it('one process: a reload that leaves the listener files alone builds no new context; a renewal then does, once', async () => {
    const { pki, renewed, yaml } = await setup('{ LISTENER_TLS }')
    const g = await startOpsGateway(pki.dir, yaml)
    cleanup.push(() => g.gw.close())
    const server = g.gw.server as unknown as { setSecureContext(o: object): void }
    let rebuilt = 0
    const real = server.setSecureContext.bind(server)
    server.setSecureContext = (o: object): void => {
      rebuilt++
      real(o)
    }
    let before = g.gw.ref.current
    // Another setting changes (a comment is enough to start a reload): the files are the same.
    replaceFile(join(pki.dir, 'gateway.yaml'), `${yaml}\n# touched\n`)
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the reload')
    expect(rebuilt).toBe(0)
    expect(await served(g.gw.port, pki)).toEqual({ cn: 'api.partner.test', verified: true })
    before = g.gw.ref.current
    renew(pki, 'listener', renewed)
    await eventually(() => g.gw.ref.current !== before, 20_000, 'the renewal\'s reload')
    expect(rebuilt).toBe(1)
    expect(await served(g.gw.port, pki)).toEqual({ cn: 'gateway-renewed', verified: true })
  })

  it('one process: a renewed key that does not match its certificate fails the reload, and the old certificate stays', async () => {
    const { pki, renewed, yaml } = await setup('{ LISTENER_TLS }')
    const g = await startOpsGateway(pki.dir, yaml)
    cleanup.push(() => g.gw.close())
    const before = g.gw.ref.current
    // The new certificate with the old key: what a half-finished renewal leaves.
    replaceFile(pki.file('listener.crt'), renewed.pem + pki.inter.pem)
    const failure = await eventually(() => g.lines.map((l) => JSON.parse(l) as { msg: string; problems?: string[] }).find((l) => l.msg === 'config reload failed; keeping the last good config'), 20_000, 'the failed reload')
    // At listen.tls's line and column in the config, naming the key file (before: the key file's name in place of the config's, no line).
    const at = `${pki.dir}/gateway.yaml:1:${yaml.split('\n')[0]?.indexOf('{ cert') as number + 1}`
    expect(failure.problems).toEqual([`${at}: listen.tls: ${pki.file('listener.key')}: private key does not match the certificate in ${pki.file('listener.crt')}`])
    expect(g.gw.ref.current).toBe(before)
    expect(await served(g.gw.port, pki)).toEqual({ cn: 'api.partner.test', verified: true })
  })

  it('--workers 2: every worker serves the renewed certificate, and the primary\'s admin listener too', async () => {
    const { pki, renewed, yaml } = await setup('{ host: 127.0.0.1, port: 0, LISTENER_TLS }')
    const config = join(pki.dir, 'gateway.yaml')
    replaceFile(config, yaml)
    const gp = await spawnGateway(config, ['--workers', '2'])
    cleanup.push(() => gp.stop('SIGKILL'))
    const entries = (): Record<string, unknown>[] => gp.logEntries()
    const adminPort = portOf(await adminUrlOf(gp))
    const proxyPort = portOf(gp.url)
    expect(await served(adminPort, pki)).toEqual({ cn: 'api.partner.test', verified: true })
    renew(pki, 'listener', renewed)
    renew(pki, 'admin', renewed)
    await eventually(() => new Set(entries().filter((e) => e.msg === 'config reloaded').map((e) => e.pid)).size === 2, 30_000, 'both workers to reload')
    // The primary hands connections to the workers in turn: eight fresh ones reach both.
    const cns = new Set<string>()
    for (let i = 0; i < 8; i++) cns.add((await served(proxyPort, pki)).cn)
    expect([...cns]).toEqual(['gateway-renewed'])
    await eventually(async () => (await served(adminPort, pki)).cn === 'gateway-renewed', 20_000, 'the admin listener\'s renewed certificate')
  }, 120_000)
})
