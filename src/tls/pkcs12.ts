/**
 * PKCS#12 → key + certificates. node-forge decrypts the container; the key is handed to
 * node:crypto as PKCS#8 DER so EC keys (which forge cannot model) work too.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import type Forge from 'node-forge'

/** node-forge (PKCS#12), loaded on first use: most gateways need none, and its code (~2 MB of heap) would stay alive in every one. */
export const loadForge = ((load) => () => load('node-forge') as typeof Forge)(createRequire(import.meta.url))

type Pbes2CipherOf = (oid: string, params: unknown, password: string) => unknown

/**
 * Runs `open` with node-forge's PBES2 key derivation given the passphrase's UTF-8 bytes. PKCS#12
 * takes the passphrase as BMP text for its MAC and legacy ciphers (forge does so), but OpenSSL 3's
 * default files encrypt with PBES2, whose PBKDF2 OpenSSL feeds the UTF-8 bytes, and forge the
 * characters cut to one byte each (digitalbazaar/forge#487, #1073): a file OpenSSL wrote under a
 * non-ASCII passphrase failed to open. Swapped for the one synchronous call only.
 */
function withUtf8Pbes2<T>(forge: typeof Forge, open: () => T): T {
  const pbe = (forge.pki as unknown as { pbe: { getCipherForPBES2: Pbes2CipherOf } }).pbe
  const original = pbe.getCipherForPBES2
  pbe.getCipherForPBES2 = (oid, params, password) => original(oid, params, forge.util.encodeUtf8(password))
  try {
    return open()
  } finally {
    pbe.getCipherForPBES2 = original
  }
}

export interface Pkcs12Contents {
  key: KeyObject
  /** The certificate whose public key matches the private key. */
  leaf: X509Certificate
  /** Every other certificate in the file: presented as the chain, never trusted. */
  others: X509Certificate[]
}

/** Opens a PKCS#12 file; throws a one-line Error on a wrong passphrase or missing parts. */
export function readPkcs12(der: Buffer, passphrase: string): Pkcs12Contents {
  const forge = loadForge()
  let p12: Forge.pkcs12.Pkcs12Pfx
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')))
    p12 = withUtf8Pbes2(forge, () => forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase))
  } catch (e) {
    const msg = (e as Error).message
    if (/mac|password|invalid/i.test(msg)) throw new Error(`cannot open PKCS#12: wrong passphrase or damaged file (${msg})`)
    throw new Error(`cannot open PKCS#12: ${msg}`)
  }
  const oids = forge.pki.oids as Record<string, string>
  const shrouded = oids.pkcs8ShroudedKeyBag as string
  const plainKey = oids.keyBag as string
  const certBag = oids.certBag as string
  const keyBags = [
    ...(p12.getBags({ bagType: shrouded })[shrouded] ?? []),
    ...(p12.getBags({ bagType: plainKey })[plainKey] ?? []),
  ]
  const certBags = p12.getBags({ bagType: certBag })[certBag] ?? []
  const keyBag = keyBags[0]
  if (!keyBag) throw new Error('PKCS#12 holds no private key')
  const keyInfo: Forge.asn1.Asn1 = keyBag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key)) : (keyBag.asn1 as Forge.asn1.Asn1)
  const keyDer = Buffer.from(forge.asn1.toDer(keyInfo).getBytes(), 'binary')
  const key = createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' })
  const certs: X509Certificate[] = certBags.map((bag: Forge.pkcs12.Bag) => {
    const asn1: Forge.asn1.Asn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : (bag.asn1 as Forge.asn1.Asn1)
    return new X509Certificate(Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'))
  })
  const leaf = certs.find((c) => c.checkPrivateKey(key))
  if (!leaf) throw new Error('PKCS#12 holds no certificate matching its private key')
  return { key, leaf, others: certs.filter((c) => c !== leaf) }
}
