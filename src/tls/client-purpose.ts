/**
 * OpenSSL's rules for a client certificate's chain beyond names, signatures and dates: what
 * X509_verify_cert checks for the sslclient purpose, as the gateway's listeners, nginx, HAProxy
 * and s_server run it. `check` holds a client bundle to them (bundle.ts, the anchor aside: the
 * server's own may differ), and a reload that replaces a listener's client CA holds the caller
 * certificates of connections opened before it to all of them (peer-trust.ts).
 */
import type { X509Certificate } from 'node:crypto'
import { isSelfSigned, notCaReason, oneLine } from './chain.js'
import { certificateConstraints, keyUsageText } from './x509-extensions.js'

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/**
 * Every refusal of those rules for the chain OpenSSL built, one sentence each: `path` is the
 * leaf, its CAs, then the anchor (the leaf alone when it is trusted as itself). The leaf needs
 * clientAuth and digitalSignature or keyAgreement; every CA clientAuth, and to be a CA at its
 * place; no CA's pathlen exceeded.
 */
export function clientPathProblems(path: readonly X509Certificate[]): string[] {
  const [leaf, ...cas] = path
  if (!leaf) return []
  const notCa = cas.map((c, i) => notCaInChain(c, i === cas.length - 1))
  return [clientAuthProblem(leaf), chainClientAuthProblem(cas), ...notCa, ...chainConstraintProblems(path)].filter((p): p is string => p !== undefined)
}

/**
 * Why OpenSSL takes `cert` as no CA at its place in a client chain (X509_check_ca): below the
 * anchor, a CA is one by basicConstraints CA:TRUE (and keyCertSign, when it has a key usage);
 * the anchor may also be one without basicConstraints, by a key usage with keyCertSign or as a
 * self-signed v1 certificate. (Netscape's certificate types, which OpenSSL still reads, are not.)
 */
function notCaInChain(cert: X509Certificate, anchor: boolean): string | undefined {
  if (cert.ca) return undefined
  if (anchor) {
    const { basicConstraints, keyUsage, version } = certificateConstraints(cert)
    const signs = keyUsage === undefined ? version === 0 && isSelfSigned(cert) : keyUsage.includes('keyCertSign')
    if (basicConstraints === undefined && signs) return undefined
  }
  return `CA certificate "${oneLine(cert.subject)}" of the client chain is not a CA certificate (${notCaReason(cert)}): TLS servers refuse a client certificate under it`
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

/** No extended key usage, or one that names clientAuth: OpenSSL refuses anyExtendedKeyUsage alone for it. */
function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = cert.keyUsage as string[] | undefined
  return eku === undefined || eku.includes(OID_CLIENT_AUTH)
}

