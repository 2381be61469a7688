/**
 * A listener key renewed encrypted under a NEW passphrase (cert-manager renews key and
 * passphrase together; the passphrase a `${file:…}` from the same Secret) reloads as a fresh
 * start with the same files would open it: `listen.tls` and `admin.tls`, in one process and with
 * `--workers 2` (the workers' listener, the primary's admin listener), by a real SIGHUP. A wrong
 * passphrase is refused by name and the last good certificate is still served.
 */
import { join } from 'node:path'
import { connect } from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { privateKeyPem, type Issued } from '../../src/tls/index.js'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { endpointYaml } from '../support/gateway.js'
import { adminUrlOf, spawnGateway } from '../support/process.js'
import { secretVolume, type SecretVolume } from '../support/secret-volume.js'
import { eventually, RELOAD_REFUSED, replaceFile } from './helpers.js'

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

/** A Secret's files as cert-manager writes them for an encrypted key: certificate, key, passphrase. */
const secret = (pki: TestPki, cert: Issued, passphrase: string, keyPassphrase = passphrase): Record<string, string> =>
  ({ 'tls.crt': cert.pem + pki.inter.pem, 'tls.key': privateKeyPem(cert, 'pkcs8', keyPassphrase), passphrase })

const tlsYaml = (v: SecretVolume): string => `tls: { cert: ${v.path('tls.crt')}, key: ${v.path('tls.key')}, keyPassphrase: "\${file:${v.path('passphrase')}}" }`

/** The subject CN a fresh TLS connection to `port` is served, verified against the test root. */
function servedCn(port: number, pki: TestPki): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.root.pem }, () => {
      const cn = socket.getPeerCertificate().subject.CN
      socket.destroy()
      resolve(Array.isArray(cn) ? cn.join(',') : String(cn))
    })
    socket.on('error', reject)
  })
}

const portOf = (url: string): number => Number(new URL(url).port)

describe.each([['one process', ['--workers', '1']], ['--workers 2', ['--workers', '2']]] as const)('listener keys renewed under a new passphrase (%s)', (_mode, args) => {
  it('reload by SIGHUP: both listeners serve the renewed certificate; a wrong passphrase is refused and the last good one stays', async () => {
    const pki = await createTestPki()
    cleanup.push(() => pki.cleanup())
    const renewed = await pki.issue({ subject: 'CN=gateway-renewed,O=mtls-gateway tests', issuer: pki.inter, usages: ['serverAuth'], names: ['localhost', '127.0.0.1'], notAfter: new Date(Date.now() + 40 * 86_400_000) })
    const listener = secretVolume(join(pki.dir, 'listener-tls'), secret(pki, pki.server, 'listener-first'))
    const admin = secretVolume(join(pki.dir, 'admin-tls'), secret(pki, pki.server, 'admin-first'))
    const config = join(pki.dir, 'gateway.yaml')
    replaceFile(config, `listen: { host: 127.0.0.1, port: 0, ${tlsYaml(listener)} }\nadmin: { port: 0, ${tlsYaml(admin)} }\nendpoints:\n${endpointYaml('partner', 9, clientTls(pki))}`)
    const gp = await spawnGateway(config, [...args])
    cleanup.push(() => gp.stop('SIGKILL'))
    const proxyPort = portOf(gp.url)
    const adminPort = portOf(await adminUrlOf(gp))
    expect(await servedCn(proxyPort, pki)).toBe('api.partner.test')
    expect(await servedCn(adminPort, pki)).toBe('api.partner.test')

    // Renewed: new key and certificate, each under a new passphrase.
    let from = gp.output.length
    listener.update(secret(pki, renewed, 'listener-renewed'))
    admin.update(secret(pki, renewed, 'admin-renewed'))
    gp.child.kill('SIGHUP')
    // The primary hands connections to the workers in turn: eight fresh ones reach both.
    await eventually(async () => {
      const cns = new Set<string>()
      for (let i = 0; i < 8; i++) cns.add(await servedCn(proxyPort, pki))
      return cns.size === 1 && cns.has('gateway-renewed')
    }, 60_000, 'the listener\'s renewed certificate')
    await eventually(async () => (await servedCn(adminPort, pki)) === 'gateway-renewed', 30_000, 'the admin listener\'s renewed certificate')
    expect(gp.logEntries(from).filter((e) => e.msg === RELOAD_REFUSED)).toEqual([])

    // A renewal whose passphrase file does not decrypt its key: refused, by name.
    from = gp.output.length
    const stranger = await pki.issue({ subject: 'CN=gateway-stranger,O=mtls-gateway tests', issuer: pki.inter, usages: ['serverAuth'], names: ['localhost', '127.0.0.1'], notAfter: new Date(Date.now() + 40 * 86_400_000) })
    listener.update(secret(pki, stranger, 'not-the-passphrase', 'listener-third'))
    admin.update(secret(pki, stranger, 'not-the-passphrase', 'admin-third'))
    gp.child.kill('SIGHUP')
    const refused = await eventually(() => gp.logEntries(from).find((e) => e.msg === RELOAD_REFUSED), 60_000, 'the refused reload')
    const named = (key: string, v: SecretVolume): RegExp => new RegExp(`: ${key}: ${v.path('tls.key')}: cannot decrypt private key: wrong ${key} \\(`)
    expect(refused.problems).toEqual([expect.stringMatching(named('listen.tls.keyPassphrase', listener)), expect.stringMatching(named('admin.tls.keyPassphrase', admin))])
    expect(JSON.stringify(gp.logEntries(0))).not.toMatch(/(listener|admin)-(first|renewed|third)|not-the-passphrase/)
    for (let i = 0; i < 8; i++) expect(await servedCn(proxyPort, pki)).toBe('gateway-renewed')
    expect(await servedCn(adminPort, pki)).toBe('gateway-renewed')
  }, 180_000)
})
