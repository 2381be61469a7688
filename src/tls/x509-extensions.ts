/**
 * The two extensions OpenSSL's chain verification reads that node:crypto's X509Certificate does
 * not show: key usage (its bits) and basicConstraints (CA flag and pathLenConstraint), and the
 * version field (a v1 root has neither and is a CA to OpenSSL when trusted), read with
 * @peculiar/asn1-x509's ASN.1 schemas over @peculiar/asn1-schema (no DER parsing of our own).
 * Every start with an endpoint reads them, so the two are bundled with the modules that need them
 * (scripts/bundle.ts) rather than loaded on first use; @peculiar/x509, the layer above them, needs
 * reflect-metadata and cost a `check` about 0.1 s more CPU to load than these do.
 */
import type { X509Certificate } from 'node:crypto'
import { AsnConvert, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema'
import { BasicConstraints, Extensions, id_ce_basicConstraints, id_ce_keyUsage, KeyUsage } from '@peculiar/asn1-x509'

/**
 * RFC 5280's Certificate read as far as its extensions (asn1-x509's Certificate and TBSCertificate,
 * their other fields kept as undecoded elements, AsnPropTypes.Any): a read converts no names, keys
 * or signatures, a quarter less CPU than the full schema for a start's first certificates.
 */
class TbsCertificateExtensions {
  version = 0
  extensions?: Extensions
}
AsnProp({ type: AsnPropTypes.Integer, context: 0, defaultValue: 0 })(TbsCertificateExtensions.prototype, 'version')
for (const field of ['serialNumber', 'signature', 'issuer', 'validity', 'subject', 'subjectPublicKeyInfo']) AsnProp({ type: AsnPropTypes.Any })(TbsCertificateExtensions.prototype, field)
AsnProp({ type: AsnPropTypes.BitString, context: 1, implicit: true, optional: true })(TbsCertificateExtensions.prototype, 'issuerUniqueID')
AsnProp({ type: AsnPropTypes.BitString, context: 2, implicit: true, optional: true })(TbsCertificateExtensions.prototype, 'subjectUniqueID')
AsnProp({ type: Extensions, context: 3, optional: true })(TbsCertificateExtensions.prototype, 'extensions')
class CertificateExtensions {
  tbsCertificate = new TbsCertificateExtensions()
}
AsnProp({ type: TbsCertificateExtensions })(CertificateExtensions.prototype, 'tbsCertificate')
for (const field of ['signatureAlgorithm', 'signatureValue']) AsnProp({ type: AsnPropTypes.Any })(CertificateExtensions.prototype, field)

/** RFC 5280 §4.2.1.3 key usage bits, in the order of the extension's bit string. */
const KEY_USAGE_NAMES = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'] as const
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number]

/** What a certificate's key usage and basicConstraints extensions say (undefined: the extension is absent). */
export interface CertificateConstraints {
  /** The version field as encoded: 0 is v1 (no extensions), which OpenSSL takes as a CA when self-signed and trusted. */
  version?: number
  keyUsage?: readonly KeyUsageName[]
  basicConstraints?: { ca: boolean; pathLength?: number }
}

/** The key usage and basicConstraints of `cert`; none known when the schemas cannot read what OpenSSL did. */
export function certificateConstraints(cert: X509Certificate): CertificateConstraints {
  try {
    const tbs = AsnConvert.parse(cert.raw, CertificateExtensions).tbsCertificate
    const extensions = tbs.extensions ?? []
    // The first of an OID, as OpenSSL reads it (a duplicate makes OpenSSL refuse the certificate anyway).
    const value = (oid: string): ArrayBuffer | undefined => extensions.find((e) => e.extnID === oid)?.extnValue.buffer
    const ku = value(id_ce_keyUsage)
    const bc = value(id_ce_basicConstraints)
    const found: CertificateConstraints = { version: tbs.version }
    if (ku) {
      const bits = AsnConvert.parse(ku, KeyUsage).toNumber()
      found.keyUsage = KEY_USAGE_NAMES.filter((_, bit) => (bits & (1 << bit)) !== 0)
    }
    if (bc) {
      const { cA, pathLenConstraint } = AsnConvert.parse(bc, BasicConstraints)
      found.basicConstraints = pathLenConstraint === undefined ? { ca: cA } : { ca: cA, pathLength: pathLenConstraint }
    }
    return found
  } catch {
    return {}
  }
}

/** The key usage as the problem lines show it. */
export function keyUsageText(usages: readonly KeyUsageName[]): string {
  return usages.length > 0 ? usages.join(', ') : 'no usage'
}
