/**
 * A resumed TLS session skips the caller's certificate check. When a reload replaces
 * listen.tls.clientCa (say, to stop trusting a compromised partner CA), a session verified under
 * the old CA must not resume — as after a fresh start, whose ticket keys are new — while a reload
 * that only renews the listener's certificate keeps resumption (no full handshake for everyone).
 */
import { connect, type TLSSocket } from 'node:tls'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { listenerTlsYaml } from '../support/listener-tls.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'

let pki: TestPki
let other: TestPki
const stops: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  pki = await createTestPki('p256')
  other = await createTestPki('p256')
})

afterAll(async () => {
  for (const stop of stops) await stop()
  pki?.cleanup()
  other?.cleanup()
})

interface Call {
  status: string
  reused: boolean
  session?: Buffer
}

/** One TLS 1.3 connection with the caller certificate (resuming `session` if given): the status line of a request, and whether the session was resumed. */
function call(port: number, session?: Buffer): Promise<Call> {
  return new Promise((resolve) => {
    let got = ''
    let saved: Buffer | undefined
    let reused = false
    const s: TLSSocket = connect({
      host: '127.0.0.1', port, servername: 'api.partner.test', ca: readFileSync(pki.file('root.crt')),
      cert: Buffer.concat([readFileSync(pki.file('client.crt')), readFileSync(pki.file('inter.crt'))]), key: readFileSync(pki.file('client.key')),
      minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ...(session ? { session } : {}),
    })
    s.on('session', (b: Buffer) => (saved = b))
    s.on('secureConnect', () => {
      reused = s.isSessionReused()
      s.write('GET /gateway/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    })
    s.on('data', (c: Buffer) => (got += c.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => resolve({ status: got.split('\r\n')[0] ?? '', reused, ...(saved ? { session: saved } : {}) }))
  })
}

async function gateway(name: string, clientCa: string): Promise<{ g: OpsGateway; ca: string }> {
  const dir = join(pki.dir, name)
  mkdirSync(dir)
  const ca = join(dir, 'client-ca.pem')
  copyFileSync(clientCa, ca)
  copyFileSync(pki.file('server-chain.crt'), join(dir, 'listener.crt'))
  copyFileSync(pki.file('server.key'), join(dir, 'listener.key'))
  const endpoints = endpointYaml('partner', 1, clientTls(pki))
  const yaml = listenerTlsYaml({ cert: join(dir, 'listener.crt'), key: join(dir, 'listener.key'), clientCa: ca, requireClientCert: true }, endpoints, 'admin: { host: 127.0.0.1, port: 0 }\n')
  const g = await startOpsGateway(dir, yaml, { watch: false })
  stops.push(() => g.gw.close())
  return { g, ca }
}

describe('listener TLS session resumption across a reload', () => {
  it('a session verified under a client CA the reload replaced does not resume: the caller needs a full handshake, which the new CA refuses', async () => {
    const { g, ca } = await gateway('ca-replaced', pki.file('root.crt'))
    const first = await call(g.gw.port)
    expect(first.status).toBe('HTTP/1.1 200 OK')
    expect(first.session).toBeDefined()
    copyFileSync(other.file('root.crt'), ca)
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const resumed = await call(g.gw.port, first.session)
    expect(resumed.reused).toBe(false)
    expect(resumed.status).not.toBe('HTTP/1.1 200 OK')
    // And a fresh caller with that certificate is refused too (control: the new CA is in force).
    expect((await call(g.gw.port)).status).not.toBe('HTTP/1.1 200 OK')
  })

  it('a reload that renews only the listener certificate keeps resumption', async () => {
    const { g } = await gateway('cert-renewed', pki.file('root.crt'))
    const first = await call(g.gw.port)
    expect(first.status).toBe('HTTP/1.1 200 OK')
    const dir = join(pki.dir, 'cert-renewed')
    const renewed = await pki.issue({ subject: 'CN=api.partner.test,O=renewed', issuer: pki.inter, usages: ['serverAuth'], names: ['api.partner.test'] })
    writeFileSync(join(dir, 'listener.crt'), renewed.pem + pki.inter.pem)
    writeFileSync(join(dir, 'listener.key'), readFileSync(pki.writePair('renewed', renewed).key))
    expect(await g.gw.ops?.reload('test')).toMatchObject({ ok: true })
    const resumed = await call(g.gw.port, first.session)
    expect(resumed).toMatchObject({ status: 'HTTP/1.1 200 OK', reused: true })
  })
})
