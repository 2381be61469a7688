/**
 * Fast interception leaves. The CA issues one template leaf through @peculiar/x509 at start;
 * every further leaf is that template's DER with a new serial, validity, subject CN and DNS
 * SAN spliced in, signed with node:crypto. Same extensions, issuer and key as the template,
 * so a spliced leaf is what issueCertificate would have made — at a fraction of its cost
 * (its ASN.1 layer took ~3 ms per leaf; splicing plus one signature, well under 0.5 ms).
 */
import { randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto'
import { isIP } from 'node:net'

interface Tlv {
  readonly start: number
  readonly contentStart: number
  readonly end: number
}

function readTlv(der: Buffer, at: number): Tlv {
  let len = der[at + 1] as number
  let p = at + 2
  if (len & 0x80) {
    const n = len & 0x7f
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + (der[p++] as number)
  }
  return { start: at, contentStart: p, end: p + len }
}

function childrenOf(der: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = []
  for (let p = t.contentStart; p < t.end; p = (out[out.length - 1] as Tlv).end) out.push(readTlv(der, p))
  return out
}

function encode(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? (content[0] as Buffer) : Buffer.concat(content)
  const n = body.length
  const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff]
  return Buffer.concat([Buffer.from(head), body])
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function encodeTime(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'
  const year = d.getUTCFullYear()
  return year < 2050 ? encode(0x17, Buffer.from(iso.slice(2), 'ascii')) : encode(0x18, Buffer.from(iso, 'ascii'))
}

const SAN_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x11])
const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i

/** Issues leaves like the template, for DNS names; other hosts go the slow way. */
export interface LeafTemplate {
  /** True when `host` can be spliced (a plain DNS name, not an IP literal). */
  fits(host: string): boolean
  /** The leaf's PEM for `host`, valid until `notAfter`. */
  issue(host: string, notAfter: Date): string
}

/** Reads the template (a leaf with a DNS SAN) once; `caKey` signs with `digest` (the template's own algorithm). */
export function createLeafTemplate(templatePem: string, caKey: KeyObject, digest: 'sha256' | 'sha384'): LeafTemplate {
  const der = Buffer.from(new X509Certificate(templatePem).raw)
  const [tbs, outerAlg] = childrenOf(der, readTlv(der, 0)) as [Tlv, Tlv]
  const f = childrenOf(der, tbs)
  // [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, [3] extensions
  if (f.length !== 8 || der[(f[0] as Tlv).start] !== 0xa0 || der[(f[7] as Tlv).start] !== 0xa3) throw new Error('interception template leaf has an unexpected layout')
  const raw = (t: Tlv): Buffer => der.subarray(t.start, t.end)
  const [version, , alg, issuer, , subject, spki, extsWrapper] = f as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv, Tlv, Tlv]
  const atv = childrenOf(der, childrenOf(der, subject)[0] as Tlv)[0] as Tlv
  const [cnOid, cnValue] = childrenOf(der, atv) as [Tlv, Tlv]
  const exts = childrenOf(der, childrenOf(der, extsWrapper)[0] as Tlv)
  const sanAt = exts.findIndex((e) => raw(childrenOf(der, e)[0] as Tlv).equals(SAN_OID))
  if (sanAt === -1) throw new Error('interception template leaf has no subjectAltName')
  const fixed = { version: raw(version), alg: raw(alg), issuer: raw(issuer), spki: raw(spki), cnOid: raw(cnOid), cnTag: der[cnValue.start] as number, outerAlg: raw(outerAlg) }
  return {
    fits: (host) => isIP(host) === 0 && host.length <= 253 && DNS_NAME.test(host),
    issue(host, notAfter) {
      const serial = randomBytes(16)
      serial[0] = 0x01 // positive, no leading zero byte: as issueCertificate makes them
      const name = Buffer.from(host, 'ascii')
      const san = encode(0x30, SAN_OID, encode(0x04, encode(0x30, encode(0x82, name))))
      const extensions = exts.map((e, i) => (i === sanAt ? san : raw(e)))
      const tbsDer = encode(
        0x30,
        fixed.version,
        encode(0x02, serial),
        fixed.alg,
        fixed.issuer,
        encode(0x30, encodeTime(new Date(Date.now() - 60_000)), encodeTime(notAfter)),
        encode(0x30, encode(0x31, encode(0x30, fixed.cnOid, encode(fixed.cnTag, name)))),
        fixed.spki,
        encode(0xa3, encode(0x30, ...extensions)),
      )
      const signature = sign(digest, tbsDer, caKey)
      const cert = encode(0x30, tbsDer, fixed.outerAlg, encode(0x03, Buffer.from([0]), signature))
      return `-----BEGIN CERTIFICATE-----\n${(cert.toString('base64').match(/.{1,64}/g) as string[]).join('\n')}\n-----END CERTIFICATE-----\n`
    },
  }
}
