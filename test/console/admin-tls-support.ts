/**
 * Shared by the admin TLS tests: a PKI with admin client certificates (one allowed by
 * subject CN, one by DNS subjectAltName, one verified but not allowed), a gateway config
 * whose admin listener serves TLS, and the real curl.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect } from 'vitest'
import { createTestPki, type TestPki } from '../support/pki.js'

const run = promisify(execFile)
export const ADMIN_TOKEN_ENV = 'MTLS_GATEWAY_TEST_ADMIN_TLS_TOKEN'
export const ADMIN_TOKEN = 'admin-tls-operator-token-3c9e1a'
export const KEY_ENV = 'MTLS_GATEWAY_TEST_ADMIN_TLS_KEY'

export interface AdminPki {
  pki: TestPki
  /** Allowed by admin.tls.clientSubjects. */
  alice: { cert: string; key: string }
  /** Allowed by admin.tls.clientSans (a DNS name). */
  bob: { cert: string; key: string }
  /** Verified against clientCa, on neither list. */
  mallory: { cert: string; key: string }
}

export async function createAdminPki(): Promise<AdminPki> {
  const pki = await createTestPki()
  const client = async (base: string, subject: string, names?: string[]): Promise<{ cert: string; key: string }> =>
    pki.writePair(base, await pki.issue({ subject, issuer: pki.inter, usages: ['clientAuth'], ...(names ? { names } : {}) }), { chain: [pki.inter] })
  return {
    pki,
    alice: await client('alice', 'CN=ops-alice,O=mtls-gateway tests'),
    bob: await client('bob', 'CN=ops-bob,O=mtls-gateway tests', ['ops-bob.admin.example']),
    mallory: await client('mallory', 'CN=ops-mallory,O=mtls-gateway tests'),
  }
}

/** A gateway config whose admin listener serves TLS (the key path through `${env:}`), or plain HTTP. */
export function adminTlsYaml(pki: TestPki, o: { tls: boolean; requireClientCert?: boolean }): string {
  const tls = o.tls
    ? `  tls:
    cert: ${pki.file('server-chain.crt')}
    key: "\${env:${KEY_ENV}}"
    clientCa: ${pki.file('root.crt')}
    requireClientCert: ${o.requireClientCert ?? false}
    clientSubjects: [ops-alice]
    clientSans: [ops-bob.admin.example]
`
    : ''
  return `listen: { host: 127.0.0.1, port: 0 }
admin:
  host: 127.0.0.1
  port: 0
  token: "\${env:${ADMIN_TOKEN_ENV}}"
${tls}endpoints: []
`
}

/** The environment the config's references need. */
export function adminTlsEnv(pki: TestPki): Record<string, string> {
  return { [ADMIN_TOKEN_ENV]: ADMIN_TOKEN, [KEY_ENV]: pki.file('server.key') }
}

export interface CurlReply {
  status: number
  headers: string
  body: string
}

/** The real curl trusting the test root, with a client certificate when given; the status, headers and body. */
export async function curl(url: string, o: { pki: TestPki; as?: { cert: string; key: string }; args?: string[] }): Promise<CurlReply> {
  const { stdout } = await run('curl', [...curlTls(o.pki, o.as), '-sS', '-i', '-w', '\n%{http_code}', ...(o.args ?? []), url])
  const end = stdout.lastIndexOf('\n')
  const reply = stdout.slice(0, end)
  const split = reply.indexOf('\r\n\r\n')
  return { status: Number(stdout.slice(end + 1)), headers: reply.slice(0, split), body: reply.slice(split + 4) }
}

/** Runs curl expecting it to fail: its exit code and stderr (a success fails the test). */
export async function curlFailure(url: string, o: { pki: TestPki; as?: { cert: string; key: string } }): Promise<{ code: number; stderr: string }> {
  const r = await run('curl', [...curlTls(o.pki, o.as), '-sS', url]).then(
    (ok) => ({ code: 0, stderr: `curl succeeded: ${ok.stdout}` }),
    (e: { code?: unknown; stderr?: unknown }) => ({ code: typeof e.code === 'number' ? e.code : -1, stderr: String(e.stderr) }),
  )
  expect(r.code, r.stderr).not.toBe(0)
  return r
}

const curlTls = (pki: TestPki, as?: { cert: string; key: string }): string[] => ['--cacert', pki.file('root.crt'), ...(as ? ['--cert', as.cert, '--key', as.key] : [])]

/** One Set-Cookie header of a reply. */
export const setCookie = (r: CurlReply): string | undefined => /^set-cookie: (.*)$/im.exec(r.headers)?.[1]?.trim()
