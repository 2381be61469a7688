/**
 * An endpoint's client bundle, loaded and checked: key ↔ certificate, chain to a root,
 * clientAuth usage, key usage and path lengths. Every problem is one line naming endpoint and file, at the
 * key of the file the certificate at fault came from (bundle-sources.ts). These problems exist
 * at any time; validity dates depend on the clock and are validity.ts's (checked at each use).
 */
import type { KeyObject, X509Certificate } from 'node:crypto'
import type { EndpointTlsConfig } from '../config/index.js'
import { buildChain, oneLine } from './chain.js'
import { anchorClientAuth, chainConstraintFaults, presentedClientAuth } from './client-purpose.js'
import { presentedCertificates } from './context.js'
import { readCrl, type BundleCrl } from './bundle-crl.js'
import { bundleKey, readSources, type Fail, type Origin } from './bundle-sources.js'

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
  /** The key of `tls` that names the file, as the config writes it (bundleKey: `dir` for the folder's files). */
  field: string
  msg: string
}

export interface LoadedBundle {
  bundle?: Bundle
  problems: BundleProblem[]
  /** What works against some servers but not others (anyExtendedKeyUsage without clientAuth): said, never fatal. */
  warnings: BundleProblem[]
}

/** Reads and checks an endpoint's bundle; returns the bundle when nothing is fatal. */
export function loadBundle(tls: EndpointTlsConfig): LoadedBundle {
  const problems: BundleProblem[] = []
  const fail: Fail = (file, field, msg) => void problems.push({ file, field, msg })
  const src = readSources(tls, fail)
  const { roots, clientRoots, rootFiles } = src
  const rootsKey = bundleKey(tls, 'roots')
  if (rootFiles.length > 0 && roots.length === 0 && !problems.some((p) => p.field === rootsKey && rootFiles.includes(p.file))) {
    fail(rootFiles.join(', '), rootsKey, 'no root certificate found')
  }
  const material = src.leafAndChain
  if (!material) return { problems, warnings: [] }
  const { key, leaf, chain } = material
  if (!leaf.checkPrivateKey(key)) fail(src.keyFile, bundleKey(tls, 'key'), `private key does not match the client certificate "${oneLine(leaf.subject)}"`)
  const built = buildChain(leaf, chain, [...roots, ...clientRoots])
  const at: Origin = { file: src.certFile, field: bundleKey(tls, 'cert') }
  if (built.error) fail(at.file, at.field, built.error)
  const bundle: Bundle = {
    key,
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    leaf,
    chain: built.error ? chain : built.path.slice(1),
    roots,
    ...(built.root ? { clientRoot: built.root } : {}),
    keyType: describeKey(key),
    certFile: src.certFile,
    rootFiles,
    crls: tls.crl.flatMap((file) => readCrl(file, fail)),
  }
  return { bundle, ...purposeProblems(bundle, built, problems, (cert) => src.origins.get(cert) ?? at) }
}

/**
 * The chain held to what OpenSSL servers hold it to, added to `problems`: the presented certificates'
 * clientAuth at the key and file of the certificate at fault (the client certificate's, or `intermediates`); key usage and path lengths at the key and file of the
 * certificate at fault (`originOf`: a root's pathlen at `roots` or `clientRoots`, an intermediate's at
 * `intermediates` or `cert`); the anchor the handshake does not present at the key and file it came
 * from (the server's copy of it is held to the client purpose too).
 */
function purposeProblems(bundle: Bundle, built: ReturnType<typeof buildChain>, problems: BundleProblem[], originOf: (cert: X509Certificate) => Origin): Omit<LoadedBundle, 'bundle'> {
  const { leaf } = bundle
  // The CAs the handshake presents after it (context.ts) are held to clientAuth too, and an anchor it does not present as the server's copy is.
  const presented = built.error ? [leaf] : presentedCertificates(bundle)
  const eku = presentedClientAuth(presented)
  const anchor = built.root && built.path.length > 0 && !presented.includes(built.root) ? anchorClientAuth(built.root) : { problems: [] }
  // Key usage and path lengths as OpenSSL servers hold them (the root's pathlen too); a broken chain: the leaf's alone.
  const path = built.error ? [leaf] : [...built.path, ...(built.root ? [built.root] : [])]
  const at = originOf(leaf)
  const from = built.root ? originOf(built.root) : at
  const said = (o: Origin, msg: string): BundleProblem => ({ file: o.file, field: o.field, msg })
  // Said where the certificate at fault came from: the client certificate's file, or `intermediates`.
  const ekuAt = eku.cert ? originOf(eku.cert) : at
  if (eku.problem) problems.push(said(ekuAt, eku.problem))
  for (const f of chainConstraintFaults(path)) problems.push(said(originOf(f.cert), f.msg))
  for (const msg of anchor.problems) problems.push(said(from, msg))
  const warnings = [eku.warning && said(ekuAt, eku.warning), anchor.warning && said(from, anchor.warning)]
  return { problems, warnings: warnings.filter((w) => typeof w === 'object') }
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec') return `EC ${d?.namedCurve ?? ''}`.trim()
  if (key.asymmetricKeyType === 'rsa') return `RSA ${d?.modulusLength ?? ''}`.trim()
  return key.asymmetricKeyType ?? 'unknown'
}
