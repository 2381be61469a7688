/**
 * An endpoint's client bundle files, read (bundle.ts checks what they hold): the client certificate
 * and key (a PEM pair, a PKCS#12 file, or a Kubernetes TLS Secret's `dir`), the intermediates, the
 * roots and clientRoots. Every problem, and every certificate read, is at the key of `tls` the
 * operator wrote for its file (bundleKey): `dir` for the folder's tls.crt, tls.key and ca.crt, `pkcs12`
 * for that file's certificate and key, so `check` names no key the config does not have.
 */
import type { KeyObject, X509Certificate } from 'node:crypto'
import { readConfigFile, fileInDir, type EndpointTlsConfig } from '../config/index.js'
import { notCaProblem, parseCertificates } from './chain.js'
import { readPkcs12 } from './pkcs12.js'
import { parsePrivateKey } from './tls-files.js'

export type Fail = (file: string, field: string, msg: string) => void
/** Where a certificate came from: its file and the key of `tls` that names that file. */
export interface Origin {
  file: string
  field: string
}

export interface Sources {
  certFile: string
  keyFile: string
  leafAndChain?: { key: KeyObject; leaf: X509Certificate; chain: X509Certificate[] }
  rootFiles: string[]
  roots: X509Certificate[]
  clientRoots: X509Certificate[]
  /** Where each certificate read came from: a fault of one is named at its file and key. */
  origins: Map<X509Certificate, Origin>
}

/** What a certificate file is for, which decides the CA rule its certificates are held to. */
type CertKind = 'cert' | 'intermediates' | 'roots' | 'clientRoots'

/**
 * The key of `tls` that names the file of a bundle's `part` (`cert`, `key`, `roots`, …): `dir` for what
 * is read from the folder (tls.crt, tls.key, and ca.crt when `roots` is not given), `pkcs12` for the
 * client certificate and key of a PKCS#12 file, else `part` itself.
 */
export function bundleKey(tls: EndpointTlsConfig, part: string): string {
  if (tls.pkcs12 !== undefined && (part === 'cert' || part === 'key')) return 'pkcs12'
  if (tls.dir !== undefined && (part === 'cert' || part === 'key' || (part === 'roots' && tls.roots.length === 0))) return 'dir'
  return part
}

/** Reads an endpoint's bundle files; what cannot be read or does not hold what its key needs is `fail`ed. */
export function readSources(tls: EndpointTlsConfig, fail: Fail): Sources {
  const origins = new Map<X509Certificate, Origin>()
  const read = (file: string, kind: CertKind): X509Certificate[] => {
    const field = bundleKey(tls, kind)
    return readCerts(file, kind, field, fail).map((cert) => (origins.set(cert, { file, field }), cert))
  }
  const client = tls.pkcs12 ? readPkcs12Sources(tls, tls.pkcs12, read, fail, origins) : readPemSources(tls, read, fail)
  const rootFiles = tls.pkcs12 || tls.roots.length > 0 || !tls.dir ? tls.roots : [fileInDir(tls.dir, 'ca.crt')]
  const roots = rootFiles.flatMap((file) => read(file, 'roots'))
  return { rootFiles, roots, clientRoots: tls.clientRoots.flatMap((file) => read(file, 'clientRoots')), origins, ...client }
}

type ClientSources = Pick<Sources, 'certFile' | 'keyFile' | 'leafAndChain'>

function readPkcs12Sources(tls: EndpointTlsConfig, file: string, read: (file: string, kind: CertKind) => X509Certificate[], fail: Fail, origins: Map<X509Certificate, Origin>): ClientSources {
  try {
    const p12 = readPkcs12(readConfigFile(file), tls.pkcs12Passphrase ?? '')
    for (const cert of [p12.leaf, ...p12.others]) origins.set(cert, { file, field: 'pkcs12' })
    // Its other certificates are the chain presented after the leaf: CAs only, as in a cert file;
    // `intermediates` add to them (a file exported without its chain), as they do to a cert file's.
    const notIssuer = notCaProblem([p12.leaf, ...p12.others], false, 1)
    if (notIssuer !== undefined) fail(file, 'pkcs12', notIssuer)
    const extra = tls.intermediates.flatMap((f) => read(f, 'intermediates'))
    return { certFile: file, keyFile: file, leafAndChain: { key: p12.key, leaf: p12.leaf, chain: [...p12.others, ...extra] } }
  } catch (e) {
    fail(file, 'pkcs12', errorText(e))
    return { certFile: file, keyFile: file }
  }
}

function readPemSources(tls: EndpointTlsConfig, read: (file: string, kind: CertKind) => X509Certificate[], fail: Fail): ClientSources {
  const certFile = tls.dir ? fileInDir(tls.dir, 'tls.crt') : (tls.cert as string)
  const keyFile = tls.dir ? fileInDir(tls.dir, 'tls.key') : (tls.key as string)
  const certs = read(certFile, 'cert')
  const extra = tls.intermediates.flatMap((f) => read(f, 'intermediates'))
  const key = readKey(keyFile, tls.keyPassphrase, bundleKey(tls, 'key'), fail)
  const [leaf, ...appended] = certs
  const notIssuer = notCaProblem(certs, false, 1)
  if (notIssuer !== undefined) fail(certFile, bundleKey(tls, 'cert'), notIssuer)
  if (!leaf || !key) return { certFile, keyFile }
  return { certFile, keyFile, leafAndChain: { key, leaf, chain: [...appended, ...extra] } }
}

function readCerts(file: string, kind: CertKind, field: string, fail: Fail): X509Certificate[] {
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
    const notCa = kind === 'cert' ? undefined : notCaProblem(certs, kind !== 'intermediates')
    if (notCa !== undefined) fail(file, field, notCa)
    return certs
  } catch (e) {
    fail(file, field, errorText(e))
    return []
  }
}

function readKey(file: string, passphrase: string | undefined, field: string, fail: Fail): KeyObject | undefined {
  let pem: string
  try {
    pem = readConfigFile(file, 'utf8')
  } catch (e) {
    fail(file, field, `cannot read file: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`)
    return undefined
  }
  const key = parsePrivateKey(pem, passphrase, 'keyPassphrase')
  if (typeof key !== 'string') return key
  fail(file, field, key)
  return undefined
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] ?? e.message : String(e)
}
