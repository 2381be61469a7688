/**
 * What the PEM files of a TLS setting hold, checked when they are read (at start, on reload and
 * in `check` alike): a CA file with at least one certificate, a certificate, a private key that
 * can be read (decrypted with its passphrase) and matches that certificate. Node accepts a CA
 * file with no certificate (and then trusts nothing) and reads a client certificate and key
 * only when it connects, so without this such files fail late or silently.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { notCaProblem } from './chain.js'
import { anchorsDateFault, chainDateFaults } from './validity.js'

/** One file of a TLS setting, read: its path (for messages) and its text. */
export interface PemFile {
  readonly file: string
  readonly pem: string | Buffer
}

/** The files of one TLS setting that were read; an unset or unreadable one is left out. */
export interface TlsFiles {
  readonly ca?: PemFile | undefined
  readonly cert?: PemFile | undefined
  readonly key?: PemFile | undefined
  /** The passphrase of an encrypted `key`. */
  readonly passphrase?: string | undefined
  /** The config key that holds it (`store.redis.tls.keyPassphrase`); absent when the setting takes none. */
  readonly passphraseKey?: string | undefined
}

/** What is wrong with one file of a TLS setting: its field (`ca`, `cert`, `key`), the file, and why. */
export interface TlsFileProblem {
  readonly field: 'ca' | 'cert' | 'key'
  readonly file: string
  readonly msg: string
}

// The labels OpenSSL reads certificates under, old and trusted forms included (as a `ca` option takes them).
const CERT_BLOCK = /-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----[\s\S]+?-----END (?:TRUSTED |X509 )?CERTIFICATE-----/g

/** Every problem of `files`, one per file at most, then a key that does not match its certificate. */
export function tlsFileProblems(files: TlsFiles): TlsFileProblem[] {
  const { ca, cert, key } = files
  const problems: TlsFileProblem[] = []
  const caCerts = ca && readCertificates(ca.pem)
  if (ca && typeof caCerts === 'string') problems.push({ field: 'ca', file: ca.file, msg: caCerts })
  const notCa = Array.isArray(caCerts) ? notCaProblem(caCerts, true) : undefined
  if (ca && notCa !== undefined) problems.push({ field: 'ca', file: ca.file, msg: notCa })
  const certs = cert && readCertificates(cert.pem)
  if (cert && typeof certs === 'string') problems.push({ field: 'cert', file: cert.file, msg: certs })
  const privateKey = key && parsePrivateKey(String(key.pem), files.passphrase, files.passphraseKey)
  if (key && typeof privateKey === 'string') problems.push({ field: 'key', file: key.file, msg: privateKey })
  const leaf = Array.isArray(certs) ? certs[0] : undefined
  if (key && leaf && privateKey && typeof privateKey !== 'string' && !leaf.checkPrivateKey(privateKey)) {
    problems.push({ field: 'key', file: key.file, msg: `private key does not match the certificate in ${cert?.file ?? ''}` })
  }
  return problems
}

/**
 * The problems of `files` that arrive with time, at `now` (ms): a CA file none of whose
 * certificates is valid (it anchors nothing), and each certificate of a `cert` file (the
 * client certificate — or with `side` 'server' a listener's own — then the intermediates it
 * sends) expired or not yet valid. A file that tlsFileProblems refuses gives none here. `check`
 * fails on these; a start and a reload go on (the peer refuses the handshake, as it would when
 * the date passes while the gateway runs).
 */
export function tlsFileDateProblems(files: Pick<TlsFiles, 'ca' | 'cert'>, now: number, side: 'client' | 'server' = 'client'): TlsFileProblem[] {
  const { ca, cert } = files
  const caCerts = ca && readCertificates(ca.pem)
  const caFault = Array.isArray(caCerts) ? anchorsDateFault(caCerts, now) : undefined
  const certs = cert && readCertificates(cert.pem)
  return [
    ...(ca && caFault !== undefined ? [{ field: 'ca' as const, file: ca.file, msg: caFault }] : []),
    ...(cert && Array.isArray(certs) ? chainDateFaults(certs, now, side).map((msg) => ({ field: 'cert' as const, file: cert.file, msg })) : []),
  ]
}

/**
 * When `file` stops working by the dates alone: a CA file (`ca`) when its last certificate to
 * expire does (until then it anchors something), a certificate file (`cert`) when the first
 * of its certificates does (the leaf or an intermediate it sends). Undefined when it holds no
 * certificate (tlsFileProblems names that).
 */
export function tlsFileNotAfter(field: 'ca' | 'cert', file: PemFile): Date | undefined {
  const certs = readCertificates(file.pem)
  if (!Array.isArray(certs)) return undefined
  const ends = certs.map((c) => Date.parse(c.validTo))
  return new Date(field === 'ca' ? Math.max(...ends) : Math.min(...ends))
}

/**
 * When `file` starts working by the dates alone: a CA file when its first certificate becomes
 * valid (from then on it anchors something), a certificate file when the last of its
 * certificates does (the leaf and every intermediate it sends). Undefined when it holds no certificate.
 */
export function tlsFileNotBefore(field: 'ca' | 'cert', file: PemFile): Date | undefined {
  const certs = readCertificates(file.pem)
  if (!Array.isArray(certs)) return undefined
  const starts = certs.map((c) => Date.parse(c.validFrom))
  return new Date(field === 'ca' ? Math.min(...starts) : Math.max(...starts))
}

/** The certificates of a PEM file's text, or why there are none to use. */
function readCertificates(pem: string | Buffer): X509Certificate[] | string {
  const blocks = String(pem).match(CERT_BLOCK) ?? []
  if (blocks.length === 0) return 'no PEM certificate found'
  const certs: X509Certificate[] = []
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block))
    } catch (e) {
      return `certificate #${i + 1} is not valid X.509: ${firstLine(e)}`
    }
  }
  return certs
}

/**
 * A PEM private key (PKCS#1, PKCS#8 or SEC1), decrypted with `passphrase` when encrypted; or
 * why it cannot be read. `passphraseKey` is the setting an operator sets the passphrase in
 * (`keyPassphrase` for endpoint bundles); without one, an encrypted key cannot be used.
 */
export function parsePrivateKey(pem: string, passphrase: string | undefined, passphraseKey: string | undefined): KeyObject | string {
  // The PEM header says so (`ENCRYPTED PRIVATE KEY`, or `Proc-Type: 4,ENCRYPTED`): OpenSSL would otherwise ask for a passphrase.
  const encrypted = /ENCRYPTED/.test(pem)
  if (encrypted && passphraseKey === undefined) return 'private key is encrypted, and this setting takes no passphrase: give the key unencrypted'
  if (encrypted && passphrase === undefined) return `private key is encrypted: set ${passphraseKey}`
  try {
    return createPrivateKey({ key: pem, ...(encrypted ? { passphrase } : {}) })
  } catch (e) {
    if (encrypted) return `cannot decrypt private key: wrong ${passphraseKey} (${firstLine(e)})`
    return `not a PEM private key (PKCS#1, PKCS#8 or SEC1): ${firstLine(e)}`
  }
}

/**
 * Why an encrypted PEM key cannot be opened with `passphrase` (none given, or a wrong one), in
 * `passphraseKey`'s name; undefined when it opens or is not encrypted (other faults are OpenSSL's to tell).
 */
export function lockedKeyProblem(pem: Buffer, passphrase: string | undefined, passphraseKey: string): string | undefined {
  const text = pem.toString('utf8')
  if (!/ENCRYPTED/.test(text)) return undefined
  const opened = parsePrivateKey(text, passphrase, passphraseKey)
  return typeof opened === 'string' ? opened : undefined
}

function firstLine(e: unknown): string {
  return e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e)
}
