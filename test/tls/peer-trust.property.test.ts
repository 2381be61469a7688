/**
 * The verdict a reload gives an open connection's caller certificate (trustedUnder: the chain it
 * presented, judged again under the client CA in force) is the verdict of a fresh handshake under
 * that client CA: a real Node TLS server (the listener's OpenSSL) with `ca` set to it, on the
 * same certificates. Generated chains (0–2 intermediates, or a self-signed leaf) mix sound and
 * unsound extensions — basicConstraints absent, CA:FALSE, CA:TRUE with pathlen 0 or 1; key usages
 * with or without digitalSignature, keyAgreement, keyCertSign; extended key usage clientAuth,
 * serverAuth, any or none; expired certificates — and the new client CA is the root re-issued
 * with other extensions (same name and key: every signature still verifies), an intermediate
 * alone, or an intermediate with that root. The open connection was verified under the original
 * root. trustedUnder read names, signatures, dates and the leaf's clientAuth only: it trusted,
 * for example, a leaf whose key usage lacks digitalSignature and a root whose pathlen the chain
 * exceeds, which the fresh handshake refuses.
 */
import 'reflect-metadata' // @peculiar/x509 needs it loaded first (as src/tls/pki.ts does)
import * as x509 from '@peculiar/x509'
import { KeyObject, webcrypto } from 'node:crypto'
import { createServer, connect, type TLSSocket, type Server } from 'node:tls'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trustedUnder, type CallerTrust } from '../../src/tls/peer-trust.js'

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
const DAY = 86_400_000
type Keys = webcrypto.CryptoKeyPair
const USAGES = ['digitalSignature', 'keyEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign'] as const

/** The extensions and dates of one certificate. */
interface Profile {
  bc: 'absent' | 'ca' | 'ca-pathlen0' | 'ca-pathlen1' | 'not-ca'
  ku?: (typeof USAGES)[number][]
  eku: 'absent' | 'clientAuth' | 'serverAuth' | 'any'
  expired: boolean
}
const SOUND_CA: Profile = { bc: 'ca', ku: ['keyCertSign', 'cRLSign'], eku: 'absent', expired: false }
const SOUND_LEAF: Profile = { bc: 'not-ca', ku: ['digitalSignature'], eku: 'clientAuth', expired: false }

const anyProfile: fc.Arbitrary<Profile> = fc.record({
  bc: fc.constantFrom('absent', 'ca', 'ca-pathlen0', 'ca-pathlen1', 'not-ca'),
  ku: fc.option(fc.subarray([...USAGES], { minLength: 1 }), { nil: undefined }),
  eku: fc.constantFrom('absent', 'clientAuth', 'serverAuth', 'any'),
  expired: fc.boolean(),
}).map((p) => (p.ku === undefined ? { bc: p.bc, eku: p.eku, expired: p.expired } : p) as Profile)
/** Mostly sound, so that both verdicts come up. */
const profile = (sound: Profile): fc.Arbitrary<Profile> => fc.oneof({ arbitrary: fc.constant(sound), weight: 2 }, { arbitrary: anyProfile, weight: 1 })

interface Case {
  leaf: Profile
  cas: Profile[]
  root: Profile
  selfSignedLeaf: boolean
  clientCa: 'root' | 'lowest-intermediate' | 'intermediate-and-root'
}
const caseArb: fc.Arbitrary<Case> = fc.record({
  leaf: profile(SOUND_LEAF),
  cas: fc.array(profile(SOUND_CA), { maxLength: 2 }),
  root: profile(SOUND_CA),
  selfSignedLeaf: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, { arbitrary: fc.constant(true), weight: 1 }),
  clientCa: fc.constantFrom('root', 'lowest-intermediate', 'intermediate-and-root'),
})

function extensions(p: Profile): x509.Extension[] {
  const out: x509.Extension[] = []
  if (p.bc !== 'absent') out.push(new x509.BasicConstraintsExtension(p.bc !== 'not-ca', p.bc === 'ca-pathlen0' ? 0 : p.bc === 'ca-pathlen1' ? 1 : undefined, true))
  if (p.ku) out.push(new x509.KeyUsagesExtension(p.ku.reduce((bits, u) => bits | x509.KeyUsageFlags[u], 0), true))
  if (p.eku !== 'absent') out.push(new x509.ExtendedKeyUsageExtension([p.eku === 'any' ? '2.5.29.37.0' : x509.ExtendedKeyUsage[p.eku]], false))
  return out
}

let serial = 1
async function mint(subject: string, keys: Keys, p: Profile, issuer?: { name: string; keys: Keys }): Promise<string> {
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(4, '0'),
    subject,
    issuer: issuer?.name ?? subject,
    notBefore: new Date(now - (p.expired ? 10 : 1) * DAY),
    notAfter: new Date(now + (p.expired ? -1 : 2) * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: (issuer?.keys ?? keys).privateKey,
    extensions: extensions(p),
  })
  return cert.toString('pem') + '\n'
}

const newKeys = async (): Promise<Keys> => (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as Keys
const pemKey = (k: Keys): string => KeyObject.from(k.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString()

let server: { cert: string; key: string }
const servers: Server[] = []

beforeAll(async () => {
  const keys = await newKeys()
  server = { cert: await mint('CN=listener', keys, { bc: 'not-ca', ku: ['digitalSignature'], eku: 'serverAuth', expired: false }), key: pemKey(keys) }
})

afterAll(() => {
  for (const s of servers) s.close()
})

/** A handshake presenting `cert` (leaf + chain) to a server trusting `ca`: the server's side of it, and a closer. */
function handshake(ca: string, cert: string, key: string): Promise<{ socket: TLSSocket; close: () => void }> {
  return new Promise((resolve, reject) => {
    const s = createServer({ cert: server.cert, key: server.key, ca, requestCert: true, rejectUnauthorized: false })
    servers.push(s)
    s.once('secureConnection', (socket: TLSSocket) => resolve({ socket, close: () => (client.destroy(), socket.destroy(), s.close()) }))
    s.once('tlsClientError', reject)
    let client: TLSSocket
    s.listen(0, '127.0.0.1', () => {
      const address = s.address()
      if (typeof address !== 'object' || address === null) throw new Error('no port')
      client = connect({ host: '127.0.0.1', port: address.port, rejectUnauthorized: false, cert, key })
      client.on('error', () => undefined)
    })
  })
}

const trust = (ca: string): CallerTrust => ({ ca: Buffer.from(ca), requestCert: true, rejectUnauthorized: false })

/** The chain of `c`, the original root and the new client CA file, minted. */
async function mintCase(c: Case): Promise<{ presented: string; key: string; original: string; clientCa: string }> {
  const rootKeys = await newKeys()
  const rootName = 'CN=Caller Root'
  const original = await mint(rootName, rootKeys, SOUND_CA)
  const reissued = await mint(rootName, rootKeys, c.root)
  let issuer = { name: rootName, keys: rootKeys }
  const cas: string[] = []
  for (const [i, p] of c.cas.entries()) {
    const keys = await newKeys()
    const name = `CN=Caller CA ${i + 1}`
    cas.unshift(await mint(name, keys, p, issuer))
    issuer = { name, keys }
  }
  const leafKeys = await newKeys()
  const leaf = await mint('CN=caller', leafKeys, c.leaf, c.selfSignedLeaf ? undefined : issuer)
  const lowest = cas[0]
  const clientCa = c.selfSignedLeaf ? leaf : c.clientCa === 'root' || lowest === undefined ? reissued : c.clientCa === 'lowest-intermediate' ? lowest : `${cas.at(-1) ?? ''}${reissued}`
  return { presented: leaf + (c.selfSignedLeaf ? '' : cas.join('')), key: pemKey(leafKeys), original, clientCa }
}

describe('a caller certificate judged again after a reload replaced the client CA', () => {
  it('is trusted exactly when a fresh handshake under the new client CA verifies it', async () => {
    let agreedTrusted = 0
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const m = await mintCase(c)
        const open = await handshake(m.original, m.presented, m.key)
        const fresh = await handshake(m.clientCa, m.presented, m.key)
        try {
          const judged = trustedUnder(open.socket, trust(m.original), trust(m.clientCa))
          expect(judged, `fresh handshake: ${String(fresh.socket.authorizationError ?? 'verified')}`).toBe(fresh.socket.authorized)
          if (judged) agreedTrusted++
        } finally {
          open.close()
          fresh.close()
        }
      }),
      { seed: 0x7e57ca, numRuns: 150 },
    )
    // Both verdicts came up.
    expect(agreedTrusted).toBeGreaterThan(5)
    expect(agreedTrusted).toBeLessThan(145)
  })
})
