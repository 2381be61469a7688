/**
 * An endpoint's `tls.crl` files, read for its bundle (bundle.ts): each file's text, its CRLs one by
 * one, and their validity periods (validity.ts reads the dates; OpenSSL names an unparsable CRL).
 */
import { readConfigFile } from '../config/index.js'
import { loadX509 } from './pki.js'

/** One CRL file's text and the validity period of each CRL in it (thisUpdate … nextUpdate). */
export interface BundleCrl {
  file: string
  pem: string
  /** Each CRL of the file on its own: Node's `crl` option reads only the first CRL of a string. */
  blocks: string[]
  periods: { issuer: string; from: number; until?: number }[]
}

const CRL_PEM = /-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/g

/** A CRL file's text and its CRLs' periods; an unreadable file is a problem, an unparsable CRL is left to OpenSSL to name. */
export function readCrl(file: string, fail: (file: string, field: string, msg: string) => void): BundleCrl[] {
  let pem: string
  try {
    pem = readConfigFile(file, 'utf8')
  } catch (e) {
    fail(file, 'crl', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`)
    return []
  }
  const periods: BundleCrl['periods'] = []
  const blocks = pem.match(CRL_PEM) ?? []
  for (const block of blocks) {
    try {
      // @peculiar/x509 loads only for a bundle with CRLs.
      const crl = new (loadX509().X509Crl)(block)
      periods.push({ issuer: crl.issuer, from: crl.thisUpdate.getTime(), ...(crl.nextUpdate ? { until: crl.nextUpdate.getTime() } : {}) })
    } catch {
      // OpenSSL refuses it when the context is built, naming the file.
    }
  }
  return [{ file, pem, blocks, periods }]
}
