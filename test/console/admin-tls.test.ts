/**
 * The admin listener over TLS (admin.tls), with the real curl: a required client
 * certificate refused at the TLS 1.3 handshake when missing, /readyz and /metrics with
 * one, the console signing in an allow-listed certificate without the token (CSRF still
 * required, the audit line naming the subject), a verified certificate not on the list
 * sent to the login form, the session cookie Secure over TLS only; and the allow-list
 * decision as a property over generated names and near misses.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateAllowed } from '../../src/console/auth.js'
import { subjectAltNames } from '../../src/tls/index.js'
import { startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { ADMIN_TOKEN, adminTlsEnv, adminTlsYaml, createAdminPki, curl, curlFailure, setCookie, type AdminPki } from './admin-tls-support.js'

let a: AdminPki
const dirs: string[] = []
const gateways: OpsGateway[] = []

async function start(o: { tls: boolean; requireClientCert?: boolean }): Promise<OpsGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'admin-tls-'))
  dirs.push(dir)
  const gw = await startOpsGateway(dir, adminTlsYaml(a.pki, o), { watch: false })
  gateways.push(gw)
  return gw
}

const audits = (gw: OpsGateway): Record<string, unknown>[] => gw.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'console')
const ALICE = 'cert:CN=ops-alice, O=mtls-gateway tests'

beforeAll(async () => {
  a = await createAdminPki()
  Object.assign(process.env, adminTlsEnv(a.pki))
})

afterAll(async () => {
  for (const gw of gateways) await gw.gw.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
  a?.pki.cleanup()
})

describe('admin listener with requireClientCert (real curl)', () => {
  let gw: OpsGateway
  let admin: string
  beforeAll(async () => {
    gw = await start({ tls: true, requireClientCert: true })
    admin = gw.adminUrl.replace('127.0.0.1', 'localhost')
  })

  it('serves HTTPS; without a client certificate the TLS 1.3 handshake ends with certificate_required', async () => {
    expect(gw.adminUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    for (const path of ['/readyz', '/console/']) {
      const none = await curlFailure(`${admin}${path}`, { pki: a.pki })
      expect(none).toEqual({ code: 56, stderr: expect.stringMatching(/:tlsv13 alert certificate required,/) })
    }
  })

  it('a certificate from clientCa reaches /readyz, /healthz and /metrics, allow-listed or not', async () => {
    for (const as of [a.alice, a.mallory]) {
      const ready = await curl(`${admin}/readyz`, { pki: a.pki, as })
      expect(ready.status).toBe(200)
      expect(JSON.parse(ready.body)).toEqual({ status: 'ready' })
      expect((await curl(`${admin}/healthz`, { pki: a.pki, as })).status).toBe(200)
      const metrics = await curl(`${admin}/metrics`, { pki: a.pki, as })
      expect(metrics.status).toBe(200)
      expect(metrics.body).toContain('# TYPE mtls_gateway_requests_in_flight gauge')
    }
  })

  it('an allow-listed certificate (by CN or by DNS SAN) is signed in without the token; POSTs still need the CSRF token', async () => {
    const session = await curl(`${admin}/console/api/session`, { pki: a.pki, as: a.alice })
    expect(session.status, session.body).toBe(200)
    const s = JSON.parse(session.body) as { who: string; via: string; csrf: string }
    expect(s).toEqual({ who: ALICE, via: 'certificate', csrf: expect.stringMatching(/^[\w-]{43}$/) })
    expect(setCookie(session)).toBeUndefined()
    const bob = JSON.parse((await curl(`${admin}/console/api/session`, { pki: a.pki, as: a.bob })).body) as { who: string; csrf: string }
    expect(bob.who).toBe('cert:CN=ops-bob, O=mtls-gateway tests')
    // One certificate's CSRF token is not another's.
    expect(bob.csrf).not.toBe(s.csrf)
    expect((await curl(`${admin}/console/api/overview`, { pki: a.pki, as: a.alice })).status).toBe(200)

    const post = (csrf?: string, as = a.alice): Promise<{ status: number; body: string }> =>
      curl(`${admin}/console/api/reload`, { pki: a.pki, as, args: ['-X', 'POST', '-H', `origin: ${admin}`, '-H', 'content-type: application/json', ...(csrf ? ['-H', `x-csrf-token: ${csrf}`] : []), '--data', '{}'] })
    const none = await post()
    expect(none.status).toBe(403)
    expect(JSON.parse(none.body)).toEqual({ errors: [{ msg: 'missing or wrong CSRF token: reload the console page', code: 403 }] })
    expect((await post(bob.csrf)).status).toBe(403)
    const good = await post(s.csrf)
    expect(good.status, good.body).toBe(200)
    expect(JSON.parse(good.body)).toMatchObject({ ok: true })
    const lines = audits(gw)
    expect(lines).toContainEqual(expect.objectContaining({ who: ALICE, action: 'reload', result: 'csrf_refused' }))
    expect(lines).toContainEqual(expect.objectContaining({ who: ALICE, action: 'reload', result: 'ok' }))
  })

  it('a verified certificate not on the list gets the login form; the token then signs in with a Secure cookie', async () => {
    const refused = await curl(`${admin}/console/api/session`, { pki: a.pki, as: a.mallory })
    expect(refused.status).toBe(401)
    expect(JSON.parse(refused.body)).toEqual({ errors: [{ msg: 'the client certificate "CN=ops-mallory, O=mtls-gateway tests" is not in admin.tls.clientSubjects or admin.tls.clientSans: sign in with the admin token', code: 401 }] })
    const page = await curl(`${admin}/console/`, { pki: a.pki, as: a.mallory })
    expect(page.status).toBe(200)
    expect(page.body).toContain('<script type="module" src="app.js">')
    const json = ['-H', `origin: ${admin}`, '-H', 'content-type: application/json']
    const login = await curl(`${admin}/console/api/login`, { pki: a.pki, as: a.mallory, args: ['-X', 'POST', ...json, '--data', JSON.stringify({ token: ADMIN_TOKEN })] })
    expect(login.status, login.body).toBe(200)
    const cookie = setCookie(login) ?? ''
    expect(cookie).toMatch(/^mtls_gateway_console=[^;]+; Path=\/console\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/)
    const overview = await curl(`${admin}/console/api/overview`, { pki: a.pki, as: a.mallory, args: ['-H', `cookie: ${cookie.split(';')[0] as string}`] })
    expect(overview.status).toBe(200)
    expect(audits(gw)).toContainEqual(expect.objectContaining({ who: 'token', action: 'login', result: 'ok' }))
  })

  it('a certificate from another CA is refused at the handshake', async () => {
    const rogueCa = await a.pki.issue({ subject: 'CN=Rogue', ca: true })
    const rogue = a.pki.writePair('rogue', await a.pki.issue({ subject: 'CN=ops-alice', issuer: rogueCa, usages: ['clientAuth'] }))
    const r = await curlFailure(`${admin}/readyz`, { pki: a.pki, as: rogue })
    // TLS 1.3: curl finishes its side, then reads the server's alert (exit 56) or an empty reply (52).
    expect([35, 52, 56], r.stderr).toContain(r.code)
  })
})

describe('session cookie: Secure over TLS, not over plain HTTP (real curl)', () => {
  it('with TLS and no certificate required, the token signs in with a Secure cookie; plain HTTP has none', async () => {
    const login = async (gw: OpsGateway): Promise<string> => {
      const url = gw.adminUrl.replace('127.0.0.1', 'localhost')
      const r = await curl(`${url}/console/api/login`, { pki: a.pki, args: ['-X', 'POST', '-H', `origin: ${url}`, '-H', 'content-type: application/json', '--data', JSON.stringify({ token: ADMIN_TOKEN })] })
      expect(r.status, r.body).toBe(200)
      return setCookie(r) ?? ''
    }
    const tls = await start({ tls: true })
    expect((await curl(`${tls.adminUrl.replace('127.0.0.1', 'localhost')}/readyz`, { pki: a.pki })).status).toBe(200)
    expect(await login(tls)).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/)
    const plain = await start({ tls: false })
    expect(plain.adminUrl).toMatch(/^http:\/\//)
    const cookie = await login(plain)
    expect(cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+$/)
    expect(cookie).not.toContain('Secure')
  })
})

describe('subjectAltName text', () => {
  it('reads DNS, URI and IP names, quoted values with commas included, and skips other kinds', () => {
    expect(subjectAltNames('DNS:ops.example, URI:"spiffe://ops/a,b", IP Address:127.0.0.1, email:ops@example.com, DNS:two.example')).toEqual([
      'ops.example', 'spiffe://ops/a,b', '127.0.0.1', 'two.example',
    ])
    expect(subjectAltNames(undefined)).toEqual([])
  })
})

describe('the console certificate allow-list (property)', () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9.:/-]{0,20}$/)
  // Near misses of a listed name: another case, a prefix or suffix, a trailing dot or space.
  const nearMiss = (v: string): fc.Arbitrary<string> => fc.constantFrom(v.toUpperCase(), `${v}.`, ` ${v}`, `${v}x`, v.slice(0, -1), `x${v}`).filter((m) => m !== v)

  it('signs in exactly the verified certificates whose CN or a SAN is listed, never a near miss or an unverified one', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 4 }), fc.array(name, { maxLength: 4 }), fc.boolean(), fc.option(name, { nil: undefined }), fc.array(name, { maxLength: 3 }), (subjects, sans, authorized, cn, peerSans) => {
        const tls = { cert: 'a', key: 'b', requireClientCert: false, clientSubjects: subjects, clientSans: sans }
        const peer = { authorized, sans: peerSans, ...(cn !== undefined ? { subjectCN: cn } : {}) }
        const expected = authorized && ((cn !== undefined && subjects.includes(cn)) || peerSans.some((s) => sans.includes(s)))
        expect(certificateAllowed(peer, tls)).toBe(expected)
        expect(certificateAllowed(peer, undefined)).toBe(false)
      }),
      { seed: 20_20, numRuns: 3000 },
    )
    fc.assert(
      fc.property(name.chain((listed) => fc.tuple(fc.constant(listed), nearMiss(listed))), ([listed, miss]) => {
        const tls = { cert: 'a', key: 'b', requireClientCert: false, clientSubjects: [listed], clientSans: [listed] }
        expect(certificateAllowed({ authorized: true, subjectCN: miss, sans: [miss] }, tls)).toBe(false)
        expect(certificateAllowed({ authorized: true, subjectCN: listed, sans: [] }, tls)).toBe(true)
        expect(certificateAllowed({ authorized: false, subjectCN: listed, sans: [listed] }, tls)).toBe(false)
      }),
      { seed: 20_21, numRuns: 3000 },
    )
  })
})
