/**
 * Whether a listener connection's client certificate, verified by its handshake under the
 * caller trust of that moment (client CA, verification mode), is trusted by the listener's TLS
 * in force now. A reload may replace the client CA while kept-alive connections and tunnels stay
 * open; a fresh start with the new files would refuse a certificate the new CA did not issue,
 * so such a connection's certificate stops identifying anyone.
 */
import { X509Certificate } from 'node:crypto'
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls'
import { buildChain, isIssuedBy, notAfter, notBefore, parseCertificates } from './chain.js'
import { clientPathProblems } from './client-purpose.js'

/** The caller-trust half of a listener's TLS options (what decides `authorized`). */
export interface CallerTrust {
  ca?: unknown
  requestCert?: boolean | undefined
  rejectUnauthorized?: boolean | undefined
}

const sameBytes = (a: unknown, b: unknown): boolean => a === b || (Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b))

/** Same client CA and verification mode: what a handshake verified under `a` holds under `b`. */
export function sameCallerTrust(a: CallerTrust, b: CallerTrust): boolean {
  return sameBytes(a.ca, b.ca) && a.requestCert === b.requestCert && a.rejectUnauthorized === b.rejectUnauthorized
}

const anchorsOf = (trust: CallerTrust): X509Certificate[] => (Buffer.isBuffer(trust.ca) ? parseCertificates(trust.ca.toString('latin1')) : [])

/**
 * True when a fresh handshake under `now` would verify the certificate `socket` presented
 * (verified under `verifiedUnder`): the leaf, then the certificates the caller sent (the verified
 * chain without the old trust's own certificates, which the caller did not send), built as OpenSSL
 * builds it to a self-signed anchor of `now`'s client CA (the listener allows no partial chain),
 * every one within its dates, and the chain held to OpenSSL's client rules (clientPathProblems:
 * usages, CA-ness, pathlen). Never called per request: once per connection and trust.
 */
export function trustedUnder(socket: TLSSocket, verifiedUnder: CallerTrust, now: CallerTrust, at = new Date()): boolean {
  if (!now.requestCert) return false
  try {
    const roots = anchorsOf(now)
    const old = new Set(anchorsOf(verifiedUnder).map((c) => c.fingerprint256))
    const [leaf, ...rest] = presentedChain(socket.getPeerCertificate(true))
    if (!leaf) return false
    const chain = buildChain(leaf, rest.filter((c) => !old.has(c.fingerprint256)), roots, at, true)
    if (chain.error !== undefined || !chain.root) return false
    // A self-signed leaf of the client CA is its own anchor.
    const all = chain.path.at(-1)?.fingerprint256 === chain.root.fingerprint256 ? chain.path : [...chain.path, chain.root]
    return all.every((c) => notBefore(c) <= at && at <= notAfter(c)) && clientPathProblems(all).length === 0
  } catch {
    return false
  }
}

/** The verified chain Node reports, leaf first, each certificate once. */
function presentedChain(peer: DetailedPeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = []
  const seen = new Set<string>()
  for (let c = peer; c?.raw !== undefined && !seen.has(c.fingerprint256); c = c.issuerCertificate) {
    seen.add(c.fingerprint256)
    out.push(new X509Certificate(c.raw))
  }
  return out
}

/**
 * Which of `roots` anchors the server chain a verified upstream handshake on `socket` presented
 * (once per new connection, not per request): the first certificate of the chain that is one of
 * them, or that one of them issued. Of several roots that verify the same certificate (a root
 * renewed with its key) the last to expire, as OpenSSL prefers one still valid. Undefined when
 * the chain is not known (no peer certificate) or reaches none of them.
 */
export function serverAnchor(socket: TLSSocket, roots: readonly X509Certificate[]): X509Certificate | undefined {
  try {
    for (const c of presentedChain(socket.getPeerCertificate(true))) {
      const same = roots.find((r) => r.fingerprint256 === c.fingerprint256)
      if (same) return same
      const issuers = roots.filter((r) => isIssuedBy(c, r))
      if (issuers.length > 0) return issuers.reduce((a, b) => (notAfter(b) > notAfter(a) ? b : a))
    }
  } catch {
    // A socket torn down meanwhile has no chain to read: unknown, as without one.
  }
  return undefined
}
