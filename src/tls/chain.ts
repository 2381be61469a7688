/**
 * Certificate facts by cryptographic checks, not string matching: PEM splitting, chain
 * building (issuer name + signature verified with the issuer's key), validity, CA-ness; a
 * client chain's usage rules are client-purpose.ts.
 */
import { X509Certificate } from 'node:crypto'
import { certificateConstraints, keyUsageText } from './x509-extensions.js'

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

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

/**
 * Builds leaf → intermediates → one of `roots`; reports the first certificate without an issuer.
 * Any certificate of `roots` anchors what it issued (a partial chain, as upstream handshakes
 * allow), unless `selfSignedAnchor`: then, as OpenSSL without partial chains (a listener's caller
 * certificates), a CA of `roots` that another issued continues the chain, and from it on only
 * `roots` may, up to a self-signed one.
 */
export function buildChain(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], at = new Date(), selfSignedAnchor = false): ChainResult {
  const path = [leaf]
  const used = new Set<X509Certificate>()
  const anchors = (c: X509Certificate): boolean => !selfSignedAnchor || isSelfSigned(c)
  let untrusted = intermediates
  let current = leaf
  for (let depth = 0; depth < 10; depth++) {
    const root = bestIssuer(roots.filter((r) => isIssuedBy(current, r)), at)
    if (root && anchors(root)) return { path, root }
    if (roots.some((r) => r.fingerprint256 === current.fingerprint256) && anchors(current)) return { path: path.slice(0, -1), root: current }
    // Above a trusted issuer OpenSSL takes trusted ones only.
    if (root) untrusted = []
    const next = root ?? bestIssuer(untrusted.filter((c) => !used.has(c) && c !== current && isIssuedBy(current, c)), at)
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
export function notCaReason(cert: X509Certificate): string {
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

/** Distinguished names arrive one attribute per line; show them on one. */
export function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ')
}
