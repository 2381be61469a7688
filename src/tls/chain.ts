/**
 * Certificate facts by cryptographic checks, not string matching: PEM splitting, chain
 * building (issuer name + signature verified with the issuer's key), validity, usage.
 */
import { X509Certificate } from 'node:crypto'
import { certificateConstraints, keyUsageText } from './x509-extensions.js'

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

/**
 * Of the certificates that issued one (a CA renewed with its key: one name, one key, other dates),
 * the one within its dates at `at`, and of those (or, when none is, of all) the last to expire: as
 * OpenSSL takes a time-valid issuer first, so a renewed CA works in whatever order the files list it.
 */
function bestIssuer(candidates: readonly X509Certificate[], at: Date): X509Certificate | undefined {
  const valid = candidates.filter((c) => notBefore(c) <= at && at <= notAfter(c))
  const from = valid.length > 0 ? valid : candidates
  return from.reduce<X509Certificate | undefined>((best, c) => (best === undefined || notAfter(c) > notAfter(best) ? c : best), undefined)
}

/** Builds leaf → intermediates → one of `roots`; reports the first certificate without an issuer. */
export function buildChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], at = new Date()): ChainResult {
  const path = [leaf]
  const used = new Set<X509Certificate>()
  let current = leaf
  for (let depth = 0; depth < 10; depth++) {
    const root = bestIssuer(roots.filter((r) => isIssuedBy(current, r)), at)
    if (root) return { path, root }
    if (roots.some((r) => r.fingerprint256 === current.fingerprint256)) return { path: path.slice(0, -1), root: current }
    const next = bestIssuer(intermediates.filter((c) => !used.has(c) && c !== current && isIssuedBy(current, c)), at)
    if (!next) return { path, error: noIssuerError(current, [...intermediates, ...roots]) }
    used.add(next)
    path.push(next)
    current = next
  }
  return { path, error: 'chain is longer than 10 certificates' }
}

/** Why no issuer was found: none there, or one whose name and signature fit but OpenSSL does not take as a CA. */
function noIssuerError(cert: X509Certificate, candidates: readonly X509Certificate[]): string {
  const signer = candidates.find((c) => !c.ca && c.subject === cert.issuer && verifies(cert, c))
  if (signer) return `chain does not build to a configured root: "${oneLine(signer.subject)}" signed "${oneLine(cert.subject)}" but is not a CA certificate (${notCaReason(signer)}), so no server takes it as its issuer`
  return `chain does not build to a configured root: no issuer found for "${oneLine(cert.subject)}" (issued by "${oneLine(cert.issuer)}"); add the missing intermediate, or its root to tls.roots or tls.clientRoots`
}

function verifies(cert: X509Certificate, signer: X509Certificate): boolean {
  try {
    return cert.verify(signer.publicKey)
  } catch {
    return false
  }
}

/** Why OpenSSL does not take `cert` as a CA (X509_check_ca): a key usage without keyCertSign, else basicConstraints. */
function notCaReason(cert: X509Certificate): string {
  const { basicConstraints, keyUsage } = certificateConstraints(cert)
  if (basicConstraints?.ca && keyUsage && !keyUsage.includes('keyCertSign')) return `basicConstraints CA:TRUE, but its key usage lacks keyCertSign: ${keyUsageText(keyUsage)}`
  return NOT_CA_BY_CONSTRAINTS
}

const NOT_CA_BY_CONSTRAINTS = 'basicConstraints CA:FALSE or absent'

/**
 * Why certificates of a trust file (`roots`, `clientRoots`, a `ca`/`clientCa` file) or of a
 * chain (`intermediates`, those after the leaf) cannot do that job: a certificate that is not
 * a CA (basicConstraints CA:FALSE, or none) issues nothing OpenSSL accepts, and as an anchor
 * it verifies only itself when self-signed (a self-signed server certificate trusted directly;
 * `selfSignedAnchors` allows that). Certificates before `from` are not judged (a leaf). Typically a client or server certificate in the wrong file.
 */
export function notCaProblem(certs: readonly X509Certificate[], selfSignedAnchors: boolean, from = 0): string | undefined {
  const i = certs.findIndex((c, at) => at >= from && !c.ca && !(selfSignedAnchors && isSelfSigned(c)))
  const cert = certs[i]
  if (cert === undefined) return undefined
  const job = selfSignedAnchors ? 'it anchors nothing (and is not self-signed, to be trusted as itself)' : 'it cannot issue the certificate before it'
  const reason = notCaReason(cert)
  // A CA whose key usage forbids signing certificates is in the right file, but was issued wrong.
  const hint = reason === NOT_CA_BY_CONSTRAINTS ? 'a client or server certificate does not belong in this file' : 'reissue it with keyCertSign'
  return `certificate #${i + 1} "${oneLine(cert.subject)}" is not a CA certificate (${reason}): ${job}; ${hint}`
}

/** Names itself as issuer and its signature verifies with its own key (key usage aside: OpenSSL finds a trusted leaf in the store as it is). */
export function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.subject === cert.issuer && cert.verify(cert.publicKey)
  } catch {
    return false
  }
}

export function notAfter(cert: X509Certificate): Date {
  return new Date(cert.validTo)
}

export function notBefore(cert: X509Certificate): Date {
  return new Date(cert.validFrom)
}

/** A problem sentence when the extended key usage exists and excludes clientAuth. */
export function clientAuthProblem(cert: X509Certificate): string | undefined {
  if (allowsClientAuth(cert)) return undefined
  return `client certificate "${oneLine(cert.subject)}" has an extended key usage without clientAuth (${(cert.keyUsage as string[]).join(', ')})`
}

/**
 * The same rule for the CAs a client chain passes through (the anchor aside): OpenSSL's client
 * purpose holds every certificate of the path to it, so a server refuses a client whose
 * intermediate is limited to serverAuth, which `check` passed before.
 */
export function chainClientAuthProblem(intermediates: readonly X509Certificate[]): string | undefined {
  const cert = intermediates.find((c) => !allowsClientAuth(c))
  if (cert === undefined) return undefined
  return `intermediate certificate "${oneLine(cert.subject)}" of the client chain has an extended key usage without clientAuth (${(cert.keyUsage as string[]).join(', ')}): TLS servers refuse a client certificate under it`
}

/**
 * What OpenSSL's client-certificate verification (X509_verify_cert for the sslclient purpose, as
 * nginx, HAProxy and s_server run it) refuses beyond names, signatures, dates and extended key
 * usage, one sentence a problem: a client certificate whose key usage has neither digitalSignature
 * nor keyAgreement (OpenSSL's own rule), and a CA, the anchor included, whose pathLenConstraint
 * the non-self-issued CAs below it exceed. `path`: the leaf, then its CAs up to the anchor.
 */
export function chainConstraintProblems(path: readonly X509Certificate[]): string[] {
  const [leaf, ...cas] = path
  if (!leaf) return []
  const problems: string[] = []
  const usage = certificateConstraints(leaf).keyUsage
  if (usage && !usage.includes('digitalSignature') && !usage.includes('keyAgreement')) {
    problems.push(`client certificate "${oneLine(leaf.subject)}" has a key usage without digitalSignature (${keyUsageText(usage)}): TLS servers refuse it as a client certificate`)
  }
  cas.forEach((ca, i) => {
    const limit = certificateConstraints(ca).basicConstraints?.pathLength
    const below = cas.slice(0, i).filter((c) => c.subject !== c.issuer)
    if (limit === undefined || below.length <= limit) return
    const names = below.map((c) => `"${oneLine(c.subject)}"`).join(', ')
    problems.push(`CA certificate "${oneLine(ca.subject)}" of the client chain allows ${limit} intermediate CA certificate(s) below it (basicConstraints pathlen:${limit}) and the chain has ${below.length} (${names}): TLS servers refuse a client certificate under it`)
  })
  return problems
}

/** No extended key usage, or one that names clientAuth or any purpose. */
function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = cert.keyUsage as string[] | undefined
  return eku === undefined || eku.includes(OID_CLIENT_AUTH) || eku.includes(OID_ANY_EKU)
}

/** Distinguished names arrive one attribute per line; show them on one. */
export function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ')
}
