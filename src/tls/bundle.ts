/**
 * An endpoint's client bundle, loaded and checked: key ↔ certificate, chain to a root,
 * clientAuth usage, key usage and path lengths. Every problem is one line naming endpoint and file. These problems exist
 * at any time; validity dates depend on the clock and are validity.ts's (checked at each use).
 */
import type { KeyObject, X509Certificate } from 'node:crypto'
import { readConfigFile, fileInDir, type EndpointTlsConfig } from '../config/index.js'
import { buildChain, notCaProblem, oneLine, parseCertificates } from './chain.js'
import { anchorClientAuth, chainConstraintProblems, presentedClientAuth } from './client-purpose.js'
import { presentedCertificates } from './context.js'
import { readPkcs12 } from './pkcs12.js'
import { readCrl, type BundleCrl } from './bundle-crl.js'
import { parsePrivateKey } from './tls-files.js'

export interface Bundle {
  key: KeyObject
  keyPem: string
  leaf: X509Certificate
  /** Intermediates presented after the leaf (from the cert file, `intermediates`, or the PKCS#12). */
  chain: X509Certificate[]
  /** The server's trust anchors: only the configured roots, never bundle certificates. */
  roots: X509Certificate[]
  /** The root the client chain built to, when it did. */
  clientRoot?: X509Certificate
  keyType: string
  /** Where the client certificate came from, for messages. */
  certFile: string
  /** Where the server roots came from, for messages. */
  rootFiles: string[]
  /** The CRLs of `tls.crl`, read once: the secure context is built from these bytes, validity reads their dates. */
  crls: BundleCrl[]
}

export interface BundleProblem {
  file: string
  field: string
  msg: string
}

export interface LoadedBundle {
  bundle?: Bundle
  problems: BundleProblem[]
  /** What works against some servers but not others (anyExtendedKeyUsage without clientAuth): said, never fatal. */
  warnings: BundleProblem[]
}

interface Sources {
  certFile: string
  keyFile: string
  leafAndChain?: { key: KeyObject; leaf: X509Certificate; chain: X509Certificate[] }
  rootFiles: string[]
}

/** Reads and checks an endpoint's bundle; returns the bundle when nothing is fatal. */
export function loadBundle(tls: EndpointTlsConfig): LoadedBundle {
  const problems: BundleProblem[] = []
  const fail = (file: string, field: string, msg: string): void => void problems.push({ file, field, msg })
  const src = readSources(tls, fail)
  const { roots, clientRoots, origins } = readRoots(src.rootFiles, tls.clientRoots, fail)
  if (src.rootFiles.length > 0 && roots.length === 0 && !problems.some((p) => p.field === 'roots')) {
    fail(src.rootFiles.join(', '), 'roots', 'no root certificate found')
  }
  const material = src.leafAndChain
  if (!material) return { problems, warnings: [] }
  const { key, leaf, chain } = material
  if (!leaf.checkPrivateKey(key)) fail(src.keyFile, 'key', `private key does not match the client certificate "${oneLine(leaf.subject)}"`)
  const built = buildChain(leaf, chain, [...roots, ...clientRoots])
  if (built.error) fail(src.certFile, 'cert', built.error)
  const bundle: Bundle = {
    key,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    leaf,
    chain: built.error ? chain : built.path.slice(1),
    roots,
    ...(built.root ? { clientRoot: built.root } : {}),
    keyType: describeKey(key),
    certFile: src.certFile,
    rootFiles: src.rootFiles,
    crls: tls.crl.flatMap((file) => readCrl(file, fail)),
  }
  return { bundle, ...purposeProblems(bundle, built, problems, origins) }
}

type Fail = (file: string, field: string, msg: string) => void
/** Where a root came from: its file and key (`roots`, `clientRoots`). */
type Origin = { file: string; field: string }

/** The roots and clientRoots, and where each came from: a fault of the anchor the chain reaches is named at its file and key. */
function readRoots(rootFiles: string[], clientRootFiles: string[], fail: Fail): { roots: X509Certificate[]; clientRoots: X509Certificate[]; origins: Map<X509Certificate, Origin> } {
  const origins = new Map<X509Certificate, Origin>()
  const read = (files: string[], field: string): X509Certificate[] =>
    files.flatMap((file) => readCerts(file, field, fail).map((cert) => (origins.set(cert, { file, field }), cert)))
  return { roots: read(rootFiles, 'roots'), clientRoots: read(clientRootFiles, 'clientRoots'), origins }
}

/**
 * The chain held to what OpenSSL servers hold it to, added to `problems`: the presented certificates'
 * clientAuth, key usage and path lengths at `cert`; the anchor the handshake does not present at the
 * key and file it came from (the server's copy of it is held to the client purpose too).
 */
function purposeProblems(bundle: Bundle, built: ReturnType<typeof buildChain>, problems: BundleProblem[], origins: Map<X509Certificate, Origin>): Omit<LoadedBundle, 'bundle'> {
  const { leaf, certFile } = bundle
  // The CAs the handshake presents after it (context.ts) are held to clientAuth too, and an anchor it does not present as the server's copy is.
  const presented = built.error ? [leaf] : presentedCertificates(bundle)
  const eku = presentedClientAuth(presented)
  const anchor = built.root && built.path.length > 0 && !presented.includes(built.root) ? anchorClientAuth(built.root) : { problems: [] }
  // Key usage and path lengths as OpenSSL servers hold them (the root's pathlen too); a broken chain: the leaf's alone.
  const path = built.error ? [leaf] : [...built.path, ...(built.root ? [built.root] : [])]
  const at: Origin = { file: certFile, field: 'cert' }
  const from = (built.root && origins.get(built.root)) || at
  const said = (o: Origin, msg: string): BundleProblem => ({ file: o.file, field: o.field, msg })
  for (const msg of [...(eku.problem ? [eku.problem] : []), ...chainConstraintProblems(path)]) problems.push(said(at, msg))
  for (const msg of anchor.problems) problems.push(said(from, msg))
  const warnings = [eku.warning && said(at, eku.warning), anchor.warning && said(from, anchor.warning)]
  return { problems, warnings: warnings.filter((w) => typeof w === 'object') }
}

function readSources(tls: EndpointTlsConfig, fail: Fail): Sources {
  if (tls.pkcs12) {
    const file = tls.pkcs12
    const rootFiles = tls.roots
    try {
      const p12 = readPkcs12(readConfigFile(file), tls.pkcs12Passphrase ?? '')
      // Its other certificates are the chain presented after the leaf: CAs only, as in a cert file;
      // `intermediates` add to them (a file exported without its chain), as they do to a cert file's.
      const notIssuer = notCaProblem([p12.leaf, ...p12.others], false, 1)
      if (notIssuer !== undefined) fail(file, 'pkcs12', notIssuer)
      const extra = tls.intermediates.flatMap((f) => readCerts(f, 'intermediates', fail))
      return { certFile: file, keyFile: file, rootFiles, leafAndChain: { key: p12.key, leaf: p12.leaf, chain: [...p12.others, ...extra] } }
    } catch (e) {
      fail(file, 'pkcs12', errorText(e))
      return { certFile: file, keyFile: file, rootFiles }
    }
  }
  const certFile = tls.dir ? fileInDir(tls.dir, 'tls.crt') : (tls.cert as string)
  const keyFile = tls.dir ? fileInDir(tls.dir, 'tls.key') : (tls.key as string)
  const rootFiles = tls.roots.length > 0 || !tls.dir ? tls.roots : [fileInDir(tls.dir, 'ca.crt')]
  const certs = readCerts(certFile, 'cert', fail)
  const extra = tls.intermediates.flatMap((f) => readCerts(f, 'intermediates', fail))
  const key = readKey(keyFile, tls.keyPassphrase, fail)
  const [leaf, ...appended] = certs
  const notIssuer = notCaProblem(certs, false, 1)
  if (notIssuer !== undefined) fail(certFile, 'cert', notIssuer)
  if (!leaf || !key) return { certFile, keyFile, rootFiles }
  return { certFile, keyFile, rootFiles, leafAndChain: { key, leaf, chain: [...appended, ...extra] } }
}

function readCerts(file: string, field: string, fail: (f: string, k: string, m: string) => void): X509Certificate[] {
  let text: string
  try {
    text = readConfigFile(file, 'utf8')
  } catch (e) {
    fail(file, field, `cannot read file: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`)
    return []
  }
  try {
    const certs = parseCertificates(text)
    if (certs.length === 0) fail(file, field, 'no PEM certificate found')
    const notCa = field === 'cert' ? undefined : notCaProblem(certs, field !== 'intermediates')
    if (notCa !== undefined) fail(file, field, notCa)
    return certs
  } catch (e) {
    fail(file, field, errorText(e))
    return []
  }
}

function readKey(file: string, passphrase: string | undefined, fail: (f: string, k: string, m: string) => void): KeyObject | undefined {
  let pem: string
  try {
    pem = readConfigFile(file, 'utf8')
  } catch (e) {
    fail(file, 'key', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`)
    return undefined
  }
  const key = parsePrivateKey(pem, passphrase, 'keyPassphrase')
  if (typeof key !== 'string') return key
  fail(file, 'key', key)
  return undefined
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? ''}`.trim()
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? ''}`.trim()
  return key.asymmetricKeyType ?? 'unknown'
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e)
}
