/**
 * What the tests of the listener's own TLS handshake (`listen.tls`) share: the config, the
 * real clients, and the access-line messages the gateway documents for each failure.
 */
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The listener with TLS (and whatever `tls` holds: clientCa, requireClientCert), a 1 s handshake limit; `extra`: more top-level keys. */
export function listenerTlsYaml(tls: Record<string, string | boolean>, endpoints: string, extra = ''): string {
  return `listen:\n  host: 127.0.0.1\n  port: 0\n  tls: ${JSON.stringify(tls)}\n  timeouts: { tlsHandshake: 1s }\n${extra}endpoints:\n${endpoints}`
}

/** curl; a failure is expected often, so only its output is kept. */
export async function curl(args: string[]): Promise<string> {
  const r = await run('curl', ['-sS', ...args], { timeout: 60_000 }).catch((e: { stdout: string; stderr: string }) => e)
  return r.stdout + r.stderr
}

/** openssl s_client with stdin at its end: it handshakes, then closes (or fails). */
export function sClient(args: string[]): Promise<number | null> {
  const child = spawn('openssl', ['s_client', ...args], { stdio: ['ignore', 'ignore', 'ignore'] })
  const timer = setTimeout(() => child.kill(), 30_000)
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer)
    resolve(code)
  }))
}

/** The first bytes of a TLS ClientHello record: a caller that stops here is mid-handshake. */
export const PARTIAL_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])

const FAILED = 'listen.tls: tls_handshake_failed: '
export const LISTENER_ERROR = {
  unknownCa: `${FAILED}TLS alert unknown_ca from the caller: the caller does not trust the CA of the listener's certificate (listen.tls.cert)`,
  plainHttp: `${FAILED}the caller sent plain HTTP to the TLS listener, not TLS (ERR_SSL_HTTP_REQUEST)`,
  noCertificate: `${FAILED}the caller sent no certificate, and listen.tls.requireClientCert asks for one (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)`,
  timeout: 'listen.tls: tls_handshake_timeout: the caller did not complete its TLS handshake within 1 s (listen.timeouts.tlsHandshake)',
  aborted: 'listen.tls: tls_handshake_aborted: the caller closed the connection before completing its TLS handshake',
}
