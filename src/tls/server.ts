/**
 * The server side of TLS the gateway's listeners share: options from a listener's `tls`
 * config (`listen.tls`, `admin.tls`), and who a client's certificate names.
 */
import { createHash, hkdfSync } from 'node:crypto'
import type { ServerOptions as TlsServerOptions } from 'node:https'
import { createSecureContext, Server as TlsServer, type TLSSocket } from 'node:tls'
import { readConfigFile, type ListenTlsConfig } from '../config/index.js'
import { readPeerIdentity, type PeerIdentity } from './peer-identity.js'
import { sameCallerTrust, trustedUnder } from './peer-trust.js'
import { SERVER_SECURE_OPTIONS } from './no-renegotiation.js'
import { lockedKeyProblem, tlsFileProblems } from './tls-files.js'

/** A listener's TLS as its server uses it: the files' contents, and the verification mode. */
export type ServerTls = TlsServerOptions & { cert: Buffer; key: Buffer }

/** What keeps a listener's TLS files from loading: the file, when one is to blame, and why. */
export interface ServerTlsProblem {
  file?: string
  /** The key under the listener's `tls` to blame, when the problem is that one file's (or the passphrase's). */
  field?: 'cert' | 'key' | 'clientCa' | 'keyPassphrase'
  msg: string
}

/**
 * Reads a listener's tls files (`at`: `listen.tls`, `admin.tls`) and builds a secure context once, so a key that
 * does not match its certificate, an unreadable file or a wrong passphrase (named `<at>.keyPassphrase`) is a problem
 * here (at start and on every reload alike), never an OpenSSL error at listen time or a reload serving the old certificate.
 */
export function loadServerTls(t: ListenTlsConfig, at = 'tls'): { tls: ServerTls } | { problem: ServerTlsProblem } {
  const read = (file: string, field: ServerTlsProblem['field']): Buffer | ServerTlsProblem => {
    try {
      return readConfigFile(file)
    } catch (e) {
      return { file, field, msg: `cannot read file: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }
    }
  }
  const cert = read(t.cert, 'cert')
  if (!Buffer.isBuffer(cert)) return { problem: cert }
  const key = read(t.key, 'key')
  if (!Buffer.isBuffer(key)) return { problem: key }
  const ca = t.clientCa === undefined ? undefined : read(t.clientCa, 'clientCa')
  if (ca !== undefined && !Buffer.isBuffer(ca)) return { problem: ca }
  // Node ignores a client CA file with no certificate in it: the listener would trust no caller certificate.
  const [unusableCa] = ca && t.clientCa !== undefined ? tlsFileProblems({ ca: { file: t.clientCa, pem: ca } }) : []
  if (unusableCa) return { problem: { file: unusableCa.file, field: 'clientCa', msg: unusableCa.msg } }
  const locked = lockedKeyProblem(key, t.keyPassphrase, `${at}.keyPassphrase`)
  if (locked !== undefined) return { problem: { file: t.key, field: t.keyPassphrase === undefined ? 'key' : 'keyPassphrase', msg: locked } }
  const tls: ServerTls = {
    cert,
    key,
    // No renegotiation: a connection's certificate stays the one its handshake verified (no-renegotiation.ts).
    secureOptions: SERVER_SECURE_OPTIONS,
    ...(t.keyPassphrase !== undefined ? { passphrase: t.keyPassphrase } : {}),
    ...(ca ? { ca, requestCert: true, rejectUnauthorized: t.requireClientCert } : {}),
  }
  try {
    createSecureContext(tls)
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e)
    // OpenSSL's reason, without its code: `error:05800074:x509 certificate routines::key values mismatch`.
    const reason = /error:[0-9A-F]+:[^:]*:[^:]*:(.+)$/i.exec(text)?.[1] ?? text
    if (reason === 'key values mismatch') return { problem: { file: t.key, msg: `private key does not match the certificate in ${t.cert}` } }
    return { problem: { file: t.cert, msg: `cannot serve TLS with this certificate and ${t.key}: ${reason}` } }
  }
  return { tls }
}

/** The TLS each listener serves now, so a reload that left its files alone leaves its context alone. */
const serving = new WeakMap<object, ServerTls>()

/** The listener and its TLS in force when a connection's handshake completed (what `authorized` was judged under). */
const verifiedUnder = new WeakMap<object, { server: object; tls: ServerTls }>()

/** The listener TLS in force when each TCP connection arrived: its handshake runs under that context. */
const acceptedUnder = new WeakMap<object, ServerTls>()

/** A trust no listener serves: a connection verified under it is judged again under the one in force. */
const UNKNOWN_TRUST = Object.freeze({}) as unknown as ServerTls

/** Records the TLS a listener was created with (renewServerTls compares against it), and each connection's. */
export function noteServedTls(server: object, tls: ServerTls): void {
  serving.set(server, tls)
  if (!(server instanceof TlsServer)) return
  // Node gives a connection the server's context when the TCP connection arrives, not when its
  // handshake completes: a handshake under way across a reload was verified under the old client CA.
  server.on('connection', (raw: object) => {
    const now = serving.get(server)
    if (now) acceptedUnder.set(raw, now)
  })
  server.on('secureConnection', (socket: TLSSocket) => {
    const parent = (socket as { _parent?: object })._parent
    const at = parent === undefined ? undefined : acceptedUnder.get(parent)
    // Unknown (no TCP socket seen): judged again under the trust in force, which can only withdraw.
    verifiedUnder.set(socket, { server, tls: at ?? UNKNOWN_TRUST })
  })
}

/** Same certificate, key, client CA and verification mode (what loadServerTls sets). */
function sameServerTls(a: ServerTls, b: ServerTls): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && a.passphrase === b.passphrase && sameCallerTrust(a, b)
}

/**
 * Hands a reloaded listener TLS to its running server: new connections get the new certificate, key (and
 * its passphrase) and client CA; open ones keep theirs. The session-ticket keys stay while the client CA and
 * verification mode do, so a renewed certificate does not cost every caller a full handshake; a new client
 * CA gets new keys (no resumption past it). Unchanged files (most reloads) build no new context.
 */
export function renewServerTls(server: object, tls: ServerTls | undefined): void {
  if (!tls || !(server instanceof TlsServer)) return
  const current = serving.get(server)
  if (current !== undefined && sameServerTls(current, tls)) return
  // A resumed session skips the caller's certificate check: when the trust in caller certificates
  // changed (client CA, verification mode), sessions verified under the old one must not resume,
  // as after a fresh start; a renewed certificate or key alone keeps them.
  const sameTrust = current !== undefined && sameCallerTrust(current, tls)
  // On reload (not per request).
  server.setSecureContext({ ...tls, ticketKeys: sameTrust ? server.getTicketKeys() : nextTicketKeys(server.getTicketKeys(), tls) })
  serving.set(server, tls)
  if (!sameTrust) for (const fn of trustWatchers.get(server) ?? []) fn()
}

/** What runs on a listener once a reload changed its caller trust (its guard closes the idle connections it now refuses). */
const trustWatchers = new WeakMap<object, (() => void)[]>()

/** Runs `fn` each time renewServerTls changes `server`'s caller trust (client CA, requireClientCert). */
export function onCallerTrustChange(server: object, fn: () => void): void {
  trustWatchers.set(server, [...(trustWatchers.get(server) ?? []), fn])
}

/** Per connection: the caller trust it was last judged under by admittedByCallerTrust, and the verdict. */
const admissions = new WeakMap<object, { tls: ServerTls; admitted: boolean }>()

/**
 * Whether the listener's caller trust in force admits a request on this connection, as a fresh
 * start with the same files would have admitted its handshake: false when that trust requires a
 * client certificate (requireClientCert) and the connection has none it trusts (none, or one
 * its client CA does not verify) — which only a reload can bring about, since the handshake
 * judged it under the trust of its TCP connection's arrival. A comparison per request; the
 * judgement once per connection and trust. True for connections that are not a TLS listener's.
 */
export function admittedByCallerTrust(socket: object): boolean {
  const verified = verifiedUnder.get(socket)
  const now = verified && serving.get(verified.server)
  if (!verified || !now || now === verified.tls) return true
  const known = admissions.get(socket)
  if (known?.tls === now) return known.admitted
  const admitted = now.rejectUnauthorized !== true || peerIdentity(socket)?.authorized === true
  admissions.set(socket, { tls: now, admitted })
  return admitted
}

/**
 * New ticket keys for a new caller trust, derived from the current keys and that trust: unknown
 * outside the process (the current keys are secret), unlike the old ones, and the same in every
 * worker that held the same keys, so resumption keeps working across workers after the reload.
 */
function nextTicketKeys(current: Buffer, tls: ServerTls): Buffer {
  const trust = createHash('sha256').update(Buffer.isBuffer(tls.ca) ? tls.ca : Buffer.from(String(tls.ca ?? ''))).update(`${String(tls.requestCert)}/${String(tls.rejectUnauthorized)}`).digest()
  return Buffer.from(hkdfSync('sha256', current, trust, 'mtls-gateway listener ticket keys', 48))
}

// Reading a client certificate costs ~10 µs (Node builds a fresh object from the X.509 each
// time), paid on every request of a kept-alive connection. TLS 1.3 has no renegotiation, so a
// connection's certificate is fixed once the handshake is done: read it once per connection.
// TLS 1.2 too: every context the gateway serves refuses renegotiation (no-renegotiation.ts), the
// one way a connection could present another certificate later.
const identities = new WeakMap<object, PeerIdentity>()

/** The client certificate of a TLS socket, as the listener's trust in force now judges it; undefined on plain TCP. */
export function peerIdentity(socket: unknown): PeerIdentity | undefined {
  const s = socket as Partial<TLSSocket>
  if (typeof s.getPeerCertificate !== 'function') return undefined
  let identity = identities.get(s)
  if (!identity) {
    identity = readPeerIdentity(s)
    identities.set(s, identity)
  }
  return identity.authorized ? underCurrentTrust(s as TLSSocket, identity) : identity
}

/** Verdicts on connections verified under a caller trust a reload has since replaced: one per connection and trust. */
const rejudged = new WeakMap<object, { tls: ServerTls; identity: PeerIdentity }>()

/**
 * A certificate verified under a client CA a reload replaced is judged again under the one in
 * force (trustedUnder): a fresh start would refuse one the new CA did not issue, so it stops
 * identifying the caller on the connections it opened before the reload too.
 */
function underCurrentTrust(socket: TLSSocket, identity: PeerIdentity): PeerIdentity {
  const verified = verifiedUnder.get(socket)
  const now = verified && serving.get(verified.server)
  if (!verified || !now || now === verified.tls || sameCallerTrust(verified.tls, now)) return identity
  const known = rejudged.get(socket)
  if (known?.tls === now) return known.identity
  const judged = trustedUnder(socket, verified.tls, now) ? identity : Object.assign({}, identity, { authorized: false })
  rejudged.set(socket, { tls: now, identity: judged })
  return judged
}
