/**
 * The interception CA: a leaf certificate per host, minted on first use and kept in an
 * LRU. All leaves share one pre-generated P-256 key pair (minting is then one signature,
 * not a key generation), are short-lived, and name only the host in their SAN.
 */
import { KeyObject, webcrypto } from 'node:crypto'
import { createSecureContext, type SecureContext } from 'node:tls'
import { generateKeys, issueCertificate, loadX509, type Issued } from './pki.js'
import { createLeafTemplate } from './leaf-template.js'
import type { InterceptionCa } from './interception-ca.js'
import { SERVER_SECURE_OPTIONS } from './no-renegotiation.js'

export interface MinterOptions {
  /** The CA as the config snapshot read and checked it (loadInterceptionCa): never re-read from disk. */
  ca: InterceptionCa
  validityMs: number
  cacheSize: number
  /** Called once per leaf actually minted (metrics, logs). */
  onMint?: (host: string, ms: number) => void
}

export interface Minter {
  /** The SecureContext presenting a leaf for `host` (minted, or from the cache). */
  contextFor(host: string): Promise<SecureContext>
  readonly caNotAfter: Date
  /** Leaves minted so far. */
  readonly minted: number
}

interface Entry {
  context: Promise<SecureContext>
  renewAt: number
}

async function importCa({ ca }: MinterOptions): Promise<Issued & { key: KeyObject }> {
  const kind = ca.keyKind === 'rsa' ? 'rsa2048' : ca.keyKind
  const cert = new (loadX509().X509Certificate)(ca.certPem)
  const alg = kind === 'rsa2048' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: kind === 'p384' ? 'P-384' : 'P-256' }
  const privateKey = await webcrypto.subtle.importKey('pkcs8', ca.key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign'])
  const publicKey = await cert.publicKey.export(alg, ['verify'])
  return { cert, keys: { privateKey, publicKey } as webcrypto.CryptoKeyPair, kind, pem: ca.certPem, key: ca.key }
}

/** Imports the snapshot's CA and makes the shared leaf key. */
export async function createMinter(o: MinterOptions): Promise<Minter> {
  const ca = await importCa(o)
  const leafKeys = await generateKeys('p256')
  const leafKeyPem = KeyObject.from(leafKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString()
  const cache = new Map<string, Entry>()
  let minted = 0
  const issue = (host: string): Promise<Issued> =>
    issueCertificate({
      subject: `CN=${host.replace(/[,=+<>#;"\\]/g, '')}`,
      issuer: ca,
      keys: leafKeys,
      usages: ['serverAuth'],
      names: [host],
      notAfter: new Date(Date.now() + o.validityMs),
    })
  // DNS names are spliced into a template leaf (fast); IP literals are issued in full.
  const template = createLeafTemplate((await issue('template.invalid')).pem, ca.key, ca.kind === 'p384' ? 'sha384' : 'sha256')
  const mint = async (host: string): Promise<SecureContext> => {
    const started = performance.now()
    const pem = template.fits(host) ? template.issue(host, new Date(Date.now() + o.validityMs)) : (await issue(host)).pem
    minted++
    o.onMint?.(host, performance.now() - started)
    return createSecureContext({ key: leafKeyPem, cert: pem, secureOptions: SERVER_SECURE_OPTIONS })
  }
  return {
    get caNotAfter() {
      return ca.cert.notAfter
    },
    get minted() {
      return minted
    },
    contextFor(host) {
      const name = host.toLowerCase()
      const hit = cache.get(name)
      if (hit && hit.renewAt > Date.now()) {
        cache.delete(name)
        cache.set(name, hit) // most recently used last
        return hit.context
      }
      // Renew well before expiry so a cached leaf is never presented expired.
      const entry: Entry = { context: mint(name), renewAt: Date.now() + o.validityMs * 0.8 }
      entry.context.catch(() => cache.delete(name))
      cache.set(name, entry)
      while (cache.size > o.cacheSize) cache.delete(cache.keys().next().value as string)
      return entry.context
    },
  }
}

/** `mtls-gateway pki interception-ca`: a P-256 CA for minting interception leaves. */
export async function createInterceptionCa(validityDays = 825): Promise<{ certPem: string; keyPem: string }> {
  const ca = await issueCertificate({
    subject: 'CN=mtls-gateway interception CA,O=mtls-gateway',
    kind: 'p256',
    ca: true,
    pathLength: 0,
    notAfter: new Date(Date.now() + validityDays * 86_400_000),
  })
  return { certPem: ca.pem, keyPem: KeyObject.from(ca.keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString() }
}
