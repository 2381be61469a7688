/**
 * OpenSSL's rules for a client certificate's chain beyond names, signatures and dates: what
 * X509_verify_cert checks for the sslclient purpose, as the gateway's listeners, nginx, HAProxy
 * and s_server run it. `check` holds a client bundle to them (bundle.ts; the anchor, when the
 * handshake does not present it, as the server's copy of it is held; anyExtendedKeyUsage without
 * clientAuth only warned of: other servers take it), and a reload that replaces a listener's
 * client CA holds the caller certificates of connections opened before it to all of them
 * (peer-trust.ts).
 */
import type { X509Certificate } from 'node:crypto'
import { isSelfSigned, notCaReason, oneLine } from './chain.js'
import { certificateConstraints, keyUsageText } from './x509-extensions.js'

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const OID_ANY_EKU = '2.5.29.37.0'
/** RFC 5280's names of the extended key usages, for messages (others are shown as their OID). */
const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth', [OID_CLIENT_AUTH]: 'clientAuth', '1.3.6.1.5.5.7.3.3': 'codeSigning', '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping', '1.3.6.1.5.5.7.3.9': 'OCSPSigning', [OID_ANY_EKU]: 'anyExtendedKeyUsage',
}

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

/** A problem sentence when the extended key usage exists and excludes clientAuth (anyExtendedKeyUsage too: OpenSSL's client purpose refuses it). */
function clientAuthProblem(cert: X509Certificate): string | undefined {
  if (allowsClientAuth(cert)) return undefined
  return `client certificate "${oneLine(cert.subject)}" has an extended key usage without clientAuth (${ekuText(cert)})`
}

/**
 * The same rule for the CAs a client chain passes through (the anchor aside): OpenSSL's client
 * purpose holds every certificate of the path to it, so a server refuses a client whose
 * intermediate is limited to serverAuth, which `check` passed before.
 */
function chainClientAuthProblem(intermediates: readonly X509Certificate[]): string | undefined {
  const cert = intermediates.find((c) => !allowsClientAuth(c))
  return cert === undefined ? undefined : caWithoutClientAuth(cert, 'intermediate certificate')
}

/** The problem sentence for a CA of a client chain, the `which` of it, whose extended key usage excludes clientAuth. */
function caWithoutClientAuth(cert: X509Certificate, which: string): string {
  return `${which} "${oneLine(cert.subject)}" of the client chain has an extended key usage without clientAuth (${ekuText(cert)}): TLS servers refuse a client certificate under it`
}

/**
 * The extended key usage rule for a client certificate the gateway presents to backends, and the
 * CAs it presents with it (`presented`: the leaf first). Without clientAuth it is a problem, unless
 * the usage names anyExtendedKeyUsage: servers on Go crypto/tls or Java JSSE take that for any
 * purpose, clientAuth included, and a bundle that works against them must not stop the gateway;
 * OpenSSL's client purpose (nginx, HAProxy, s_server) refuses it, so it is a warning.
 */
export function presentedClientAuth(presented: readonly X509Certificate[]): { problem?: string; warning?: string; cert?: X509Certificate } {
  const [leaf, ...cas] = presented
  if (!leaf) return {}
  const strict = (c: X509Certificate): boolean => !allowsClientAuth(c) && !ekuOf(c)?.includes(OID_ANY_EKU)
  // `cert`: the certificate the problem or warning is about, so it is said at the key and file it came from.
  if (strict(leaf)) return { problem: clientAuthProblem(leaf), cert: leaf }
  const ca = cas.find(strict)
  if (ca !== undefined) return { problem: caWithoutClientAuth(ca, 'intermediate certificate'), cert: ca }
  const any = presented.find((c) => !allowsClientAuth(c))
  if (any === undefined) return {}
  return { warning: anyEkuWarning(any, any === leaf ? 'client certificate' : 'intermediate certificate'), cert: any }
}

/**
 * The trust anchor a client chain reaches in the bundle's roots when the handshake does not present
 * it (a self-signed one, the client certificate itself aside): the server verifies with its own copy,
 * and OpenSSL's chain check holds that to the client purpose too: a CA at its place (X509_check_ca:
 * "invalid CA certificate"), and an extended key usage, when it has one, with clientAuth ("unsuitable
 * certificate purpose"); anyExtendedKeyUsage is warned of, as on the presented certificates.
 */
export function anchorClientAuth(anchor: X509Certificate): { problems: string[]; warning?: string } {
  const notCa = notCaInChain(anchor, true)
  const problems = notCa === undefined ? [] : [notCa]
  if (allowsClientAuth(anchor)) return { problems }
  if (ekuOf(anchor)?.includes(OID_ANY_EKU)) return { problems, warning: anyEkuWarning(anchor, 'root certificate') }
  return { problems: [...problems, caWithoutClientAuth(anchor, 'root certificate')] }
}

/** The warning for anyExtendedKeyUsage without clientAuth on `cert`, the `which` of a client chain. */
function anyEkuWarning(cert: X509Certificate, which: string): string {
  const under = which === 'client certificate' ? 'it' : 'a client certificate under it'
  return `${which} "${oneLine(cert.subject)}" has the extended key usage ${ekuText(cert)}, without clientAuth: servers on Go crypto/tls or Java take anyExtendedKeyUsage for clientAuth, but OpenSSL-based servers (nginx, HAProxy) refuse ${under} ("unsuitable certificate purpose"); reissue it with clientAuth for those`
}

/**
 * What OpenSSL's client-certificate verification (X509_verify_cert for the sslclient purpose, as
 * nginx, HAProxy and s_server run it) refuses beyond names, signatures, dates and extended key
 * usage, one sentence a problem: a client certificate whose key usage has neither digitalSignature
 * nor keyAgreement (OpenSSL's own rule), and a CA, the anchor included, whose pathLenConstraint
 * the non-self-issued CAs below it exceed. `path`: the leaf, then its CAs up to the anchor.
 */
export function chainConstraintProblems(path: readonly X509Certificate[]): string[] {
  return chainConstraintFaults(path).map((f) => f.msg)
}

/** chainConstraintProblems with the certificate each is about (the leaf, or the CA whose pathlen is exceeded), to name the file it came from. */
export function chainConstraintFaults(path: readonly X509Certificate[]): { cert: X509Certificate; msg: string }[] {
  const [leaf, ...cas] = path
  if (!leaf) return []
  const faults: { cert: X509Certificate; msg: string }[] = []
  const usage = certificateConstraints(leaf).keyUsage
  if (usage && !usage.includes('digitalSignature') && !usage.includes('keyAgreement')) {
    faults.push({ cert: leaf, msg: `client certificate "${oneLine(leaf.subject)}" has a key usage without digitalSignature (${keyUsageText(usage)}): TLS servers refuse it as a client certificate` })
  }
  cas.forEach((ca, i) => {
    const limit = certificateConstraints(ca).basicConstraints?.pathLength
    const below = cas.slice(0, i).filter((c) => c.subject !== c.issuer)
    if (limit === undefined || below.length <= limit) return
    const names = below.map((c) => `"${oneLine(c.subject)}"`).join(', ')
    faults.push({ cert: ca, msg: `CA certificate "${oneLine(ca.subject)}" of the client chain allows ${limit} intermediate CA certificate(s) below it (basicConstraints pathlen:${limit}) and the chain has ${below.length} (${names}): TLS servers refuse a client certificate under it` })
  })
  return faults
}

/** The extended key usage's OIDs, undefined without the extension. */
const ekuOf = (cert: X509Certificate): readonly string[] | undefined => cert.keyUsage as string[] | undefined

/** No extended key usage, or one that names clientAuth: OpenSSL refuses anyExtendedKeyUsage alone for it. */
function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = ekuOf(cert)
  return eku === undefined || eku.includes(OID_CLIENT_AUTH)
}

/** The extended key usages by name (an OID without one as itself), for messages. */
const ekuText = (cert: X509Certificate): string => (ekuOf(cert) ?? []).map((oid) => EKU_NAMES[oid] ?? oid).join(', ')

