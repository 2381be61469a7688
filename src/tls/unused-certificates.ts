/**
 * Certificates of an endpoint's chain files that its client chain does not use: an
 * intermediate (in `intermediates`, or after the client certificate in `cert`) that is not on
 * the path from the client certificate to its root is not sent, and a `clientRoots`
 * certificate that is not the root it reaches is not used. Harmless to the handshake, so a
 * warning, never a problem: usually a file left from a rotation, or a client certificate
 * that is not the one meant. A file that cannot be read or a chain that does not build is
 * loadBundle's to name (then nothing is said here).
 */
import type { X509Certificate } from 'node:crypto'
import { fileInDir, readConfigFile, type EndpointTlsConfig } from '../config/index.js'
import type { BundleProblem } from './bundle.js'
import { buildChain, oneLine, parseCertificates } from './chain.js'

interface Found {
  cert: X509Certificate
  file: string
  field: string
  /** Its number in its file, from 1. */
  n: number
}

function read(file: string): X509Certificate[] {
  try {
    return parseCertificates(readConfigFile(file, 'utf8'))
  } catch {
    return []
  }
}

const inFile = (file: string, field: string, from = 0): Found[] => read(file).slice(from).map((cert, i) => ({ cert, file, field, n: from + i + 1 }))

/** Each certificate of `tls`'s chain files that its client chain does not use, as a warning. */
export function unusedChainCertificates(tls: EndpointTlsConfig): BundleProblem[] {
  if (tls.pkcs12 !== undefined) return []
  const certFile = tls.dir ? fileInDir(tls.dir, 'tls.crt') : (tls.cert as string)
  const [leaf] = read(certFile)
  if (leaf === undefined) return []
  const chain = [...inFile(certFile, tls.dir ? 'dir' : 'cert', 1), ...tls.intermediates.flatMap((f) => inFile(f, 'intermediates'))]
  const clientRoots = tls.clientRoots.flatMap((f) => inFile(f, 'clientRoots'))
  const rootFiles = tls.roots.length > 0 || !tls.dir ? tls.roots : [fileInDir(tls.dir, 'ca.crt')]
  const built = buildChain(leaf, chain.map((c) => c.cert), [...rootFiles.flatMap(read), ...clientRoots.map((c) => c.cert)])
  if (built.error !== undefined) return []
  const used = new Set([...built.path, ...(built.root ? [built.root] : [])].map((c) => c.fingerprint256))
  const unused = (found: Found[]): Found[] => found.filter((f) => !used.has(f.cert.fingerprint256))
  const at = (f: Found): string => `certificate #${f.n} "${oneLine(f.cert.subject)}"`
  const path = [...built.path, ...(built.root ? [built.root] : [])].map((c) => `"${oneLine(c.subject)}"`).join(' → ')
  return [
    ...unused(chain).map((f) => ({ file: f.file, field: f.field, msg: `${at(f)} is not in the client certificate's chain (${path}): it is not sent; remove it, or check that the client certificate is the one meant` })),
    ...unused(clientRoots).map((f) => ({ file: f.file, field: f.field, msg: `${at(f)} is not the root the client certificate's chain reaches (${path}): it is not used; remove it` })),
  ]
}
