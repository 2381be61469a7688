/**
 * Certificate facts by cryptographic checks, not string matching: PEM splitting, chain
 * building (issuer name + signature verified with the issuer's key), validity, usage.
 */
import { X509Certificate } from 'node:crypto'

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g
export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const OID_ANY_EKU = '2.5.29.37.0'

/** Every PEM certificate in `text`, in order; throws with the index of a broken one. */
export function parseCertificates(text: string): X509Certificate[] {
  const blocks = text.match(PEM_CERT) ?? []
  return blocks.map((pem, i) => {
    try {
      return new X509Certificate(pem)
    } catch (e) {
      throw new Error(`certificate #${i + 1} is not valid X.509: ${(e as Error).message}`)
    }
  })
}

/** True when `issuer` issued `cert`: names match and the signature verifies with its key. */
export function isIssuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
  } catch {
    return false
  }
}

export interface ChainResult {
  /** Leaf first, then the intermediates used, in order. */
  path: X509Certificate[]
  root?: X509Certificate
  error?: string
}

/** Builds leaf → intermediates → one of `roots`; reports the first certificate without an issuer. */
export function buildChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): ChainResult {
  const path = [leaf]
  const used = new Set<X509Certificate>()
  let current = leaf
  for (let depth = 0; depth < 10; depth++) {
    const root = roots.find((r) => isIssuedBy(current, r))
    if (root) return { path, root }
    if (roots.some((r) => r.fingerprint256 === current.fingerprint256)) return { path: path.slice(0, -1), root: current }
    const next = intermediates.find((c) => !used.has(c) && c !== current && isIssuedBy(current, c))
    if (!next) {
      return { path, error: `chain does not build to a configured root: no issuer found for "${oneLine(current.subject)}" (issued by "${oneLine(current.issuer)}"); add the missing intermediate, or its root to tls.roots or tls.clientRoots` }
    }
    used.add(next)
    path.push(next)
    current = next
  }
  return { path, error: 'chain is longer than 10 certificates' }
}

export function notAfter(cert: X509Certificate): Date {
  return new Date(cert.validTo)
}

export function notBefore(cert: X509Certificate): Date {
  return new Date(cert.validFrom)
}

/** A problem sentence when the extended key usage exists and excludes clientAuth. */
export function clientAuthProblem(cert: X509Certificate): string | undefined {
  const eku = cert.keyUsage as string[] | undefined
  if (eku === undefined || eku.includes(OID_CLIENT_AUTH) || eku.includes(OID_ANY_EKU)) return undefined
  return `client certificate "${oneLine(cert.subject)}" has an extended key usage without clientAuth (${eku.join(', ')})`
}

/** Distinguished names arrive one attribute per line; show them on one. */
export function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ')
}
