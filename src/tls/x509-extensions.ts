/**
 * The two extensions OpenSSL's chain verification reads that node:crypto's X509Certificate does
 * not show: key usage (its bits) and basicConstraints (CA flag and pathLenConstraint), read with
 * @peculiar/x509 (no DER parsing of our own).
 */
import type { X509Certificate } from 'node:crypto'
import { loadX509 } from './pki.js'

/** RFC 5280 §4.2.1.3 key usage bits, in the order of the extension's bit string. */
const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'] as const
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number]

/** What a certificate's key usage and basicConstraints extensions say (undefined: the extension is absent). */
export interface CertificateConstraints {
  keyUsage?: readonly KeyUsageName[]
  basicConstraints?: { ca: boolean; pathLength?: number }
}

/** The key usage and basicConstraints of `cert`; none known when @peculiar/x509 cannot read what OpenSSL did. */
export function certificateConstraints(cert: X509Certificate): CertificateConstraints {
  const x509 = loadX509()
  let parsed: InstanceType<typeof x509.X509Certificate>
  try {
    parsed = new x509.X509Certificate(cert.raw)
  } catch {
    return {}
  }
  const ku = parsed.getExtension(x509.KeyUsagesExtension)
  const bc = parsed.getExtension(x509.BasicConstraintsExtension)
  const found: CertificateConstraints = {}
  if (ku) found.keyUsage = KEY_USAGE_NAMES.filter((_, bit) => (ku.usages & (1 << bit)) !== 0)
  if (bc) found.basicConstraints = bc.pathLength === undefined ? { ca: bc.ca } : { ca: bc.ca, pathLength: bc.pathLength }
  return found
}

/** The key usage as the problem lines show it. */
export function keyUsageText(usages: readonly KeyUsageName[]): string {
  return usages.length > 0 ? usages.join(', ') : 'no usage'
}
