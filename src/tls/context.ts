/**
 * A bundle + the endpoint's verification settings → one tls.SecureContext, built once at
 * load and shared by every connection of that endpoint's pool.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'
import type { EndpointTlsConfig } from '../config/index.js'
import type { Bundle, BundleProblem } from './bundle.js'

/** Builds the client SecureContext; problems (bad CRL, OpenSSL refusals) are returned, not thrown. */
export function createClientContext(bundle: Bundle, tls: EndpointTlsConfig): { context?: SecureContext; problems: BundleProblem[] } {
  const problems: BundleProblem[] = []
  // Read once by loadBundle (an unreadable file is its problem): the dates validity checks are these bytes'.
  // One string per CRL: given a file's text whole, Node (OpenSSL's PEM reader) adds only its first CRL.
  // A file without a CRL block goes whole, for OpenSSL to refuse naming it.
  const crl = bundle.crls.flatMap((c) => (c.blocks.length > 0 ? c.blocks : [c.pem]))
  const ca = bundle.roots.map((c) => c.toString())
  try {
    const context = createSecureContext({
      key: bundle.keyPem,
      cert: [bundle.leaf, ...bundle.chain].map((c) => c.toString()).join('\n'),
      ca: tls.systemRoots ? [...rootCertificates, ...ca] : ca,
      minVersion: tls.minVersion,
      ...(tls.maxVersion ? { maxVersion: tls.maxVersion } : {}),
      ...(crl.length > 0 ? { crl } : {}),
    })
    return { context, problems }
  } catch (e) {
    problems.push({ file: tls.crl.join(', ') || bundle.certFile, field: tls.crl.length > 0 ? 'crl' : 'cert', msg: `OpenSSL refused the bundle: ${(e as Error).message}` })
    return { problems }
  }
}
