/**
 * A bundle + the endpoint's verification settings → one tls.SecureContext, built once at
 * load and shared by every connection of that endpoint's pool.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'
import type { EndpointTlsConfig } from '../config/index.js'
import type { X509Certificate } from 'node:crypto'
import type { Bundle, BundleProblem } from './bundle.js'
import { isSelfSigned } from './chain.js'

/**
 * What the handshake presents: the client certificate, the intermediates its chain took, and the
 * CA it ends at when that one is not self-signed (an intermediate found in `roots` or `clientRoots`):
 * a server whose trust stops at the root still needs it, one that trusts it too ignores it.
 */
export function presentedCertificates(bundle: Bundle): X509Certificate[] {
  const anchor = bundle.clientRoot
  return [bundle.leaf, ...bundle.chain, ...(anchor && !isSelfSigned(anchor) ? [anchor] : [])]
}

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
      cert: presentedCertificates(bundle).map((c) => c.toString()).join('\n'),
      ca: tls.systemRoots ? [...rootCertificates, ...ca] : ca,
      // A CA in `roots` anchors what it issued even when it is not self-signed (an intermediate
      // trusted as such, as curl does): without it OpenSSL looked further for a root and refused
      // every server ("issuer unknown"), where `check` and the gateway's own chain building accept it.
      allowPartialTrustChain: true,
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
