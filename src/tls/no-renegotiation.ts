/**
 * Every TLS the gateway terminates (the proxy and admin listeners, an intercepted CONNECT's
 * inner TLS) refuses renegotiation, as nginx does. A TLS 1.2 client may otherwise start a new
 * handshake on an open connection and present another certificate (or none): the connection's
 * caller, and the per-connection verdicts of requireClientCert and peer identity, were judged
 * on the first one. OpenSSL refuses the client's new ClientHello itself (a no_renegotiation
 * alert, which ends the handshake), from the connection's first byte and on every context a
 * reload installs. TLS 1.3 has no renegotiation.
 */
import { constants } from 'node:crypto'

/** `secureOptions` of every server-side secure context. */
export const SERVER_SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION
