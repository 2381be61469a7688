/**
 * The interception CA as one config snapshot holds it: read and checked when the snapshot is
 * built (start, every reload), so the minter signs with exactly these bytes and a reload the
 * CA files would fail is refused before anything uses them. Its validity period is a fact of
 * the clock, evaluated at each CONNECT: outside it only interception is unavailable.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { GatewayError } from '../errors.js'
import { oneLine } from './chain.js'

/** The supported CA key kinds (what minting signs with). */
export type CaKeyKind = 'rsa' | 'p256' | 'p384'

/** Why an interception CA cannot mint now (log reason, snake_case like the endpoints' validity reasons). */
export type InterceptionCaFault = 'interception_ca_expired' | 'interception_ca_not_yet_valid'

/** A checked interception CA: its certificate, its key, and the clock's verdict on it. */
export interface InterceptionCa {
  readonly certPem: string
  readonly key: KeyObject
  readonly keyKind: CaKeyKind
  readonly subject: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** Why leaves cannot be minted at `now` (ms): expired or not yet valid; undefined while valid. */
  validityFault(now?: number): string | undefined
  /** validityFault with its reason, for the log line said when a snapshot holding this CA is adopted. */
  degradation(now?: number): { reason: InterceptionCaFault; message: string } | undefined
}

/** The CA key's kind; undefined when minting cannot sign with it. */
function caKeyKind(key: KeyObject): CaKeyKind | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'rsa'
  const curve = key.asymmetricKeyDetails?.namedCurve
  return curve === 'secp384r1' ? 'p384' : curve === 'prime256v1' ? 'p256' : undefined
}

const iso = (d: Date): string => d.toISOString()

/** A problem of the CA, at the file it is in: the certificate's (`caCert`) or the key's (`caKey`). */
export interface InterceptionCaProblem {
  key: 'caCert' | 'caKey'
  msg: string
}

/**
 * Parses and checks the CA's certificate and key. Problems are those no clock fixes (they
 * refuse start and reload); the validity period is left to `validityFault`, so a CA that
 * expires degrades CONNECT interception alone, like an expired bundle degrades its endpoint.
 */
export function loadInterceptionCa(certPem: string, keyPem: string, passphrase?: string): { ca?: InterceptionCa; problems: InterceptionCaProblem[] } {
  let cert: X509Certificate
  let key: KeyObject
  try {
    cert = new X509Certificate(certPem)
  } catch (e) {
    return { problems: [{ key: 'caCert', msg: `interception CA certificate is not valid PEM X.509: ${(e as Error).message}` }] }
  }
  try {
    key = createPrivateKey({ key: keyPem, ...(passphrase !== undefined ? { passphrase } : {}) })
  } catch (e) {
    return { problems: [{ key: 'caKey', msg: `interception CA key cannot be loaded: ${(e as Error).message.split('\n')[0] ?? ''}` }] }
  }
  const problems: InterceptionCaProblem[] = []
  if (!cert.ca) problems.push({ key: 'caCert', msg: 'interception CA certificate is not a CA (basicConstraints CA:FALSE)' })
  if (!cert.checkPrivateKey(key)) problems.push({ key: 'caKey', msg: 'interception CA key does not match its certificate' })
  const keyKind = caKeyKind(key)
  if (!keyKind) problems.push({ key: 'caKey', msg: `interception CA key type ${key.asymmetricKeyType ?? '?'} ${key.asymmetricKeyDetails?.namedCurve ?? ''} is not supported (use RSA, P-256 or P-384)` })
  if (problems.length > 0 || !keyKind) return { problems }
  const subject = oneLine(cert.subject)
  const notBefore = new Date(cert.validFrom)
  const notAfter = new Date(cert.validTo)
  const ca: InterceptionCa = {
    certPem,
    key,
    keyKind,
    subject,
    notBefore,
    notAfter,
    validityFault(now = Date.now()) {
      return ca.degradation(now)?.message
    },
    degradation(now = Date.now()) {
      // X.509 notAfter is inclusive (as OpenSSL counts, and as endpoint bundles are judged).
      if (now > notAfter.getTime()) return { reason: 'interception_ca_expired', message: `the interception CA expired on ${iso(notAfter)} ("${subject}")` }
      if (now < notBefore.getTime()) return { reason: 'interception_ca_not_yet_valid', message: `the interception CA is not valid before ${iso(notBefore)} ("${subject}")` }
      return undefined
    },
  }
  return { ca, problems: [] }
}

/**
 * The 503 a CONNECT to be intercepted gets while `ca` is outside its validity: judged at each
 * CONNECT, like a bundle's dates, an expired CA stops interception only (the gateway's own signing
 * identity is unusable for now, no upstream was asked).
 */
export function interceptionUnavailable(ca: InterceptionCa, authority: string): GatewayError | undefined {
  const fault = ca.validityFault()
  return fault === undefined ? undefined : new GatewayError('unavailable', `CONNECT to ${authority} refused: TLS interception is unavailable: ${fault}`)
}
