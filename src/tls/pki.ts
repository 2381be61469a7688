/**
 * Certificate minting for the dev PKI, the tests and (later) interception leaves.
 * @peculiar/x509 over WebCrypto: unlike node-forge it issues ECDSA (P-256/P-384)
 * certificates, and key generation is native.
 */
import { KeyObject, randomBytes, webcrypto } from 'node:crypto'
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import type * as X509 from '@peculiar/x509'

/**
 * @peculiar/x509 (after reflect-metadata, which it needs first), loaded on first use: only the
 * dev PKI, the tests and interception leaves issue certificates, and its code (~4 MB of heap)
 * would otherwise stay alive in every gateway, marked by every major collection. (A client
 * bundle's extensions are read without it: x509-extensions.ts.)
 */
export const loadX509 = ((load) => {
  let x509: typeof X509 | undefined
  return (): typeof X509 => {
    if (x509) return x509
    load('reflect-metadata')
    x509 = load('@peculiar/x509') as typeof X509
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof X509.cryptoProvider.set>[0])
    return x509
  }
})(createRequire(import.meta.url))

type CryptoKeyPair = webcrypto.CryptoKeyPair

export type KeyKind = 'rsa2048' | 'rsa3072' | 'p256' | 'p384'

export type { CryptoKeyPair }

export interface Issued {
  cert: X509.X509Certificate
  keys: CryptoKeyPair
  kind: KeyKind
  /** PEM of the certificate. */
  pem: string
}

function algorithm(kind: KeyKind): webcrypto.RsaHashedKeyGenParams | (webcrypto.EcKeyGenParams & { hash: string }) {
  if (kind === 'p256') return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  if (kind === 'p384') return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }
  const modulusLength = kind === 'rsa3072' ? 3072 : 2048
  return { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
}

/** A fresh key pair of the given kind. */
export async function generateKeys(kind: KeyKind): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm(kind), true, ['sign', 'verify'])) as CryptoKeyPair
}

export interface IssueOptions {
  subject: string
  kind?: KeyKind
  keys?: CryptoKeyPair
  /** The issuing CA; omitted → self-signed. */
  issuer?: Issued
  ca?: boolean
  pathLength?: number
  usages?: ('serverAuth' | 'clientAuth')[]
  /** DNS names and IP addresses for the subjectAltName. */
  names?: string[]
  notBefore?: Date
  notAfter?: Date
}

const DAY = 86_400_000

/** Issues a certificate (CA or leaf) signed by `issuer`, or self-signed. */
export async function issueCertificate(o: IssueOptions): Promise<Issued> {
  const kind = o.kind ?? o.issuer?.kind ?? 'p256'
  const keys = o.keys ?? (await generateKeys(kind))
  const signer = o.issuer ?? { keys, kind, cert: undefined }
  const notBefore = o.notBefore ?? new Date(Date.now() - 60_000)
  const x509 = loadX509()
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca === true, o.ca ? o.pathLength : undefined, true),
    new x509.KeyUsagesExtension(
      o.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ]
  if (o.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(o.issuer.keys.publicKey))
  if (o.usages && o.usages.length > 0) {
    const oids = o.usages.map((u) => (u === 'serverAuth' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth))
    extensions.push(new x509.ExtendedKeyUsageExtension(oids, false))
  }
  if (o.names && o.names.length > 0) {
    const names = o.names.map((n) => ({ type: isIP(n) ? ('ip' as const) : ('dns' as const), value: n }))
    extensions.push(new x509.SubjectAlternativeNameExtension(names, false))
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    subject: o.subject,
    issuer: o.issuer ? o.issuer.cert.subject : o.subject,
    notBefore,
    notAfter: o.notAfter ?? new Date(notBefore.getTime() + 30 * DAY),
    signingAlgorithm: algorithm(signer.kind),
    publicKey: keys.publicKey,
    signingKey: signer.keys.privateKey,
    extensions,
  })
  return { cert, keys, kind, pem: cert.toString('pem') + '\n' }
}

export type KeyFormat = 'pkcs8' | 'pkcs1' | 'sec1'

/** The private key as PEM in the given format, optionally passphrase-encrypted. */
export function privateKeyPem(issued: Issued, format: KeyFormat = 'pkcs8', passphrase?: string): string {
  const key = KeyObject.from(issued.keys.privateKey)
  const enc = passphrase === undefined ? {} : { cipher: 'aes-256-cbc', passphrase }
  return key.export({ type: format, format: 'pem', ...enc }).toString()
}
