/**
 * An endpoint's (or tenant's) `tls` section: which bundle form, its files made absolute, and the
 * rules between its keys that the schema cannot say (one form; each passphrase under its own form).
 */
import { fileInDir } from './config-path.js'
import type { EndpointTlsConfig, TlsVersion } from './types.js'
import { list, str, type Raw, type Report } from './normalize-util.js'

export function normalizeTls(t: Raw, abs: (p: string) => string, report: Report): EndpointTlsConfig {
  const forms = [t.cert !== undefined || t.key !== undefined, t.pkcs12 !== undefined, t.dir !== undefined].filter(Boolean).length
  if (forms !== 1) report([], 'give exactly one client bundle: cert + key, pkcs12, or dir')
  if ((t.cert === undefined) !== (t.key === undefined)) report([t.cert === undefined ? 'cert' : 'key'], 'is required with cert/key bundles')
  if (t.dir === undefined && t.roots === undefined) report(['roots'], 'is required (the server certificate\'s trust anchors) unless dir provides ca.crt')
  // A passphrase under the other form's key would be ignored, and the bundle then fail to open with a message about the file.
  if (t.keyPassphrase !== undefined && t.pkcs12 !== undefined && t.key === undefined && t.dir === undefined) report(['keyPassphrase'], 'is the passphrase of an encrypted PEM key (key, or dir\'s tls.key); a pkcs12 file\'s is pkcs12Passphrase')
  if (t.pkcs12Passphrase !== undefined && t.pkcs12 === undefined) report(['pkcs12Passphrase'], 'is the passphrase of a pkcs12 file, and none is given; an encrypted PEM key\'s is keyPassphrase')
  const opt = (k: string): string | undefined => (str(t[k]) === undefined ? undefined : abs(str(t[k]) as string))
  return {
    ...(opt('cert') ? { cert: opt('cert') as string } : {}),
    ...(opt('key') ? { key: opt('key') as string } : {}),
    ...(str(t.keyPassphrase) !== undefined ? { keyPassphrase: str(t.keyPassphrase) as string } : {}),
    intermediates: list(t.intermediates).map(abs),
    ...(opt('pkcs12') ? { pkcs12: opt('pkcs12') as string } : {}),
    ...(str(t.pkcs12Passphrase) !== undefined ? { pkcs12Passphrase: str(t.pkcs12Passphrase) as string } : {}),
    ...(opt('dir') ? { dir: opt('dir') as string } : {}),
    roots: list(t.roots).map(abs),
    clientRoots: list(t.clientRoots).map(abs),
    systemRoots: (t.systemRoots as boolean | undefined) ?? false,
    ...(str(t.serverName) ? { serverName: str(t.serverName) as string } : {}),
    minVersion: (str(t.minVersion) as TlsVersion | undefined) ?? 'TLSv1.2',
    ...(str(t.maxVersion) ? { maxVersion: str(t.maxVersion) as TlsVersion } : {}),
    pins: list(t.pins).map((p) => p.replace(/^sha256\//, '')),
    crl: list(t.crl).map(abs),
  }
}

/** Files a bundle reads, for reload watching. */
export function bundleFiles(t: EndpointTlsConfig): string[] {
  const files = [t.cert, t.key, t.pkcs12, ...t.intermediates, ...t.roots, ...t.clientRoots, ...t.crl]
  if (t.dir) files.push(fileInDir(t.dir, 'tls.crt'), fileInDir(t.dir, 'tls.key'), fileInDir(t.dir, 'ca.crt'))
  return files.filter((f): f is string => typeof f === 'string')
}
