/**
 * tlsFileProblems, the one check of what a TLS setting's PEM files hold (listener client CAs,
 * `tracing.otlp.tls`, `store.redis.tls`): a CA file must hold a certificate, a certificate file
 * a certificate, a key file a key that can be read (decrypted with its passphrase) and that
 * matches the certificate. Node would load most of these and fail only later (or, for a CA
 * file with no certificate, trust nothing at all). `check` and the Redis store's start read
 * the same words (store.redis.tls with keyPassphrase).
 */
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { loadConfig } from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { redisStoreOptions } from '../../src/runtime/index.js'
import { issueCertificate, privateKeyPem, tlsFileProblems, type Issued, type KeyFormat } from '../../src/tls/index.js'
import { createTestPki, type TestPki } from '../support/pki.js'

let pki: TestPki
beforeAll(async () => {
  pki = await createTestPki()
})
afterAll(() => pki?.cleanup())

const pem = (file: string, text: string): { file: string; pem: string } => ({ file, pem: text })

describe('tlsFileProblems', () => {
  it('a CA file must hold a certificate: empty, text, a key or a broken block is refused; trusted and old labels pass', () => {
    const ca = (text: string): string[] => tlsFileProblems({ ca: pem('/ca.pem', text) }).map((p) => `${p.field} ${p.file}: ${p.msg}`)
    expect(ca('')).toEqual(['ca /ca.pem: no PEM certificate found'])
    expect(ca('not a certificate\n')).toEqual(['ca /ca.pem: no PEM certificate found'])
    expect(ca(privateKeyPem(pki.client))).toEqual(['ca /ca.pem: no PEM certificate found'])
    expect(ca('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toEqual([expect.stringMatching(/^ca \/ca\.pem: certificate #1 is not valid X\.509: /)])
    expect(ca(pki.root.pem + pki.inter.pem)).toEqual([])
    const relabel = (label: string): string => pki.root.pem.replace(/(BEGIN|END) CERTIFICATE/g, `$1 ${label}`)
    expect(ca(relabel('TRUSTED CERTIFICATE'))).toEqual([])
    expect(ca(relabel('X509 CERTIFICATE'))).toEqual([])
  })

  it('a CA file must hold CA certificates: a leaf issued by a CA (CA:FALSE) anchors nothing and is refused; a self-signed leaf is trusted as itself and passes', async () => {
    const ca = (text: string): string[] => tlsFileProblems({ ca: pem('/ca.pem', text) }).map((p) => `${p.field} ${p.file}: ${p.msg}`)
    const notCa = (n: number, subject: string): string => `ca /ca.pem: certificate #${n} "${subject}" is not a CA certificate (basicConstraints CA:FALSE or absent): it anchors nothing (and is not self-signed, to be trusted as itself); a client or server certificate does not belong in this file`
    expect(ca(pki.client.pem)).toEqual([notCa(1, 'CN=bot-runtime, O=mtls-gateway tests')])
    expect(ca(pki.root.pem + pki.server.pem)).toEqual([notCa(2, 'CN=api.partner.test')])
    const selfSigned = await issueCertificate({ subject: 'CN=self.partner.test', usages: ['serverAuth'], names: ['self.partner.test'] })
    expect(new X509Certificate(selfSigned.pem).ca).toBe(false)
    expect(ca(selfSigned.pem)).toEqual([])
  })

  it('a certificate file must hold a certificate, a key file a private key', () => {
    const problems = tlsFileProblems({ cert: pem('/c.pem', privateKeyPem(pki.client)), key: pem('/k.pem', pki.client.pem) })
    expect(problems).toEqual([
      { field: 'cert', file: '/c.pem', msg: 'no PEM certificate found' },
      { field: 'key', file: '/k.pem', msg: expect.stringMatching(/^not a PEM private key \(PKCS#1, PKCS#8 or SEC1\): /) },
    ])
  })

  it('property (seeded): a certificate and a key pass exactly when the key is the certificate\'s, in any key format', () => {
    const issued = (): Issued[] => [pki.client, pki.server, pki.inter]
    const pick = fc.integer({ min: 0, max: 2 })
    const format = fc.constantFrom<KeyFormat>('pkcs8', 'sec1')
    fc.assert(
      fc.property(pick, pick, format, fc.boolean(), (c, k, f, chained) => {
        const cert = issued()[c] as Issued
        const key = issued()[k] as Issued
        const problems = tlsFileProblems({ cert: pem('/c.pem', cert.pem + (chained ? pki.inter.pem : '')), key: pem('/k.pem', privateKeyPem(key, f)) })
        expect(problems).toEqual(c === k ? [] : [{ field: 'key', file: '/k.pem', msg: 'private key does not match the certificate in /c.pem' }])
      }),
      { seed: 30_2027, numRuns: 30 },
    )
  })

  it('an encrypted key: refused where the setting takes no passphrase, without one, or with a wrong one; read with the right one', () => {
    const files = { cert: pem('/c.pem', pki.client.pem), key: pem('/k.pem', privateKeyPem(pki.client, 'pkcs8', 'right')) }
    const msgs = (o: { passphrase?: string; passphraseKey?: string }): string[] => tlsFileProblems({ ...files, ...o }).map((p) => p.msg)
    expect(msgs({})).toEqual(['private key is encrypted, and this setting takes no passphrase: give the key unencrypted'])
    expect(msgs({ passphraseKey: 'x.keyPassphrase' })).toEqual(['private key is encrypted: set x.keyPassphrase'])
    expect(msgs({ passphraseKey: 'x.keyPassphrase', passphrase: 'wrong' })).toEqual([expect.stringMatching(/^cannot decrypt private key: wrong x\.keyPassphrase \(/)])
    expect(msgs({ passphraseKey: 'x.keyPassphrase', passphrase: 'right' })).toEqual([])
  })
})

describe('store.redis.tls: check and the store\'s start give the same words', () => {
  const config = (name: string, passphrase: string, cert = 'client.crt'): string => {
    const key = pki.write('redis-enc.key', privateKeyPem(pki.client, 'pkcs8', 'right'))
    return pki.write(name, `store:\n  kind: redis\n  url: rediss://127.0.0.1:1/0\n  redis:\n    tls: { ca: ${pki.file('root.crt')}, cert: ${pki.file(cert)}, key: ${key}, keyPassphrase: "${passphrase}" }\n` +
      'callers:\n  apps:\n    - { clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: https://gw.example, endpoints: [partner] }\n' +
      `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: ${pki.file('client.crt')}, key: ${pki.file('client.key')}, intermediates: ${pki.file('inter.crt')}, roots: ${pki.file('root.crt')} }\n`)
  }
  /** What the start's store options (redisStoreOptions, read when the store opens) refuse, formatted. */
  const startRefusal = (file: string): string => {
    try {
      redisStoreOptions(loadConfig(file))
      return ''
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e
      return e.message
    }
  }

  it('an encrypted key with the right keyPassphrase passes; a wrong one, or another certificate, is refused naming the key', () => {
    expect(runCheck(config('right.yaml', 'right')).ok).toBe(true)
    expect(startRefusal(join(pki.dir, 'right.yaml'))).toBe('')
    const key = pki.file('redis-enc.key')
    for (const [file, msg] of [
      [config('wrong.yaml', 'wrong'), `store.redis.tls.key: ${key}: cannot decrypt private key: wrong store.redis.tls.keyPassphrase (`],
      [config('other.yaml', 'right', 'server.crt'), `store.redis.tls.key: ${key}: private key does not match the certificate in ${pki.file('server.crt')}\n`],
    ] as const) {
      const check = runCheck(file)
      expect(check.ok).toBe(false)
      expect(check.output).toContain(msg)
      const refusal = startRefusal(file)
      expect(refusal).toContain(msg.trimEnd())
      expect(check.output).toContain(`${refusal}\n`)
    }
  })
})
