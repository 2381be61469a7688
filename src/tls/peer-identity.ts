/**
 * What a listener's client certificate says, read from a TLS socket: whether the handshake
 * verified it, its subject and names, its fingerprint. server.ts judges it again under the caller
 * trust in force (peerIdentity).
 */
import type { TLSSocket } from 'node:tls'
import { oneLine } from './chain.js'

/** What a client's certificate says, and whether the listener verified it against clientCa. */
export interface PeerIdentity {
  readonly authorized: boolean
  readonly subjectCN?: string
  /** The whole subject on one line (`CN=ops, O=Example`). */
  readonly subject?: string
  /** DNS, URI and IP subjectAltNames, without their type prefix. */
  readonly sans: readonly string[]
  /** SHA-256 fingerprint of the certificate. */
  readonly fingerprint?: string
}

// Node writes `DNS:a, URI:"b,c", IP Address:1.2.3.4`; a value with a comma is JSON-quoted.
const SAN = /(?:^|,\s*)(DNS|URI|IP Address|[A-Za-z][\w ]*):("(?:[^"\\]|\\.)*"|[^,]*)/g

/** The DNS, URI and IP names of Node's subjectaltname text. */
export function subjectAltNames(text: string | undefined): string[] {
  const out: string[] = []
  for (const [, type, value] of (text ?? '').matchAll(SAN)) {
    if (type !== 'DNS' && type !== 'URI' && type !== 'IP Address') continue
    const v = (value as string).startsWith('"') ? (JSON.parse(value as string) as string) : (value as string).trim()
    if (v !== '') out.push(v)
  }
  return out
}

/** The certificate `s` presented, as its handshake judged it. */
export function readPeerIdentity(s: Partial<TLSSocket>): PeerIdentity {
  const cert = (s as TLSSocket).getPeerCertificate()
  if (!cert || !cert.subject) return { authorized: false, sans: [] }
  const cn = cert.subject.CN
  const x509 = s.getPeerX509Certificate?.()
  return {
    authorized: s.authorized === true,
    ...(typeof cn === 'string' ? { subjectCN: cn } : {}),
    ...(x509 ? { subject: oneLine(x509.subject), fingerprint: x509.fingerprint256 } : {}),
    sans: subjectAltNames(cert.subjectaltname),
  }
}
