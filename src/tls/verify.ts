/**
 * Server identity beyond the chain (which OpenSSL checks against the endpoint's roots):
 * hostname against the configured name, then optional SPKI SHA-256 pins.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { checkServerIdentity, type PeerCertificate } from 'node:tls'

/** Marks a pin failure so the error table can name it. */
export const PIN_MISMATCH = 'ERR_GATEWAY_PIN_MISMATCH'

/** base64(SHA-256(SubjectPublicKeyInfo DER)), the HPKP / curl --pinnedpubkey form. */
export function spkiPin(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('base64')
}

/** A checkServerIdentity for tls.connect: hostname first, then pins over the presented chain. */
export function makeServerIdentityCheck(pins: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  const wanted = new Set(pins)
  return (host, cert) => {
    const err = checkServerIdentity(host, cert)
    if (err || wanted.size === 0) return err
    const seen = new Set<string>()
    let c: PeerCertificate | undefined = cert
    while (c && c.raw && !seen.has(c.fingerprint256)) {
      seen.add(c.fingerprint256)
      if (wanted.has(peerPin(c))) return undefined
      c = (c as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate
    }
    return Object.assign(new Error(`no certificate in the server chain matches a configured SPKI pin (leaf pin sha256/${peerPin(cert)})`), { code: PIN_MISMATCH })
  }
}

/** The pin of a peer certificate. `PeerCertificate.pubkey` is the raw key (an EC point for
 * ECDSA), not the SubjectPublicKeyInfo, so the SPKI is re-derived from the DER certificate. */
function peerPin(cert: PeerCertificate): string {
  return spkiPin(new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' }))
}
