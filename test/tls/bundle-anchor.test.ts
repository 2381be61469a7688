/**
 * The root a client chain reaches in an endpoint's `clientRoots` (or `roots`), when it is
 * self-signed and so not presented: the server verifies with its own copy, and OpenSSL (nginx with
 * ssl_verify_client, HAProxy, s_server) holds that copy to the client purpose as it does the
 * certificates below it. A self-signed anchor that is no CA (basicConstraints CA:FALSE, or a v3
 * certificate with neither basicConstraints nor keyCertSign) and one whose extended key usage
 * lacks clientAuth are refused by `openssl s_server -Verify 1 -verify_return_error` ("invalid CA
 * certificate", "unsuitable certificate purpose"), and `check` now names them (anyExtendedKeyUsage as a warning, as on the
 * client certificate and its intermediates). `check` passed all of them: a self-signed certificate
 * in a roots file is trusted as itself, and the anchor was not judged. Anchors OpenSSL takes (a
 * keyCertSign key usage without basicConstraints, clientAuth with serverAuth) and a self-signed
 * client certificate trusted as itself still pass both. Every certificate is minted by `openssl`.
 */
import { describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.js'
import { CA_EXTENSIONS, CLIENT_EXTENSIONS, useOpensslBundles } from '../support/openssl-bundles.js'

const { mint, sServer, handshake, check, pki: pkiOf } = useOpensslBundles()

/** A client certificate under a new self-signed anchor with the extensions `ext`: s_server's verdict (status line or client error, and its verify error) and check's. */
async function judged(anchor: string, ext: string): Promise<{ handshake: string; verifyError: string; check: ReturnType<typeof check>; leaf: string }> {
  const anchorFile = mint(anchor, undefined, ext)
  const name = `under-${anchor}`
  const leaf = mint(name, anchor, CLIENT_EXTENSIONS)
  const server = await sServer(anchorFile, 1)
  const answer = await handshake(server, leaf, pkiOf().file(`${name}.key`))
  const verifyError = answer.startsWith('HTTP/') ? '' : await eventually(() => /verify error:num=\d+:[^\n]*/.exec(server.output())?.[0], undefined, 's_server to name its verify error')
  return { handshake: answer, verifyError, check: check(name, { cert: leaf, key: pkiOf().file(`${name}.key`), roots: pkiOf().file('root.crt'), clientRoots: anchorFile }), leaf }
}

const refusedPurpose = 'verify error:num=26:unsuitable certificate purpose'

describe("the client chain's self-signed anchor, judged as an OpenSSL server judges its copy", () => {
  it('a self-signed anchor that is no CA (basicConstraints CA:FALSE; a v3 certificate with neither it nor keyCertSign): s_server refuses, check names it', async () => {
    for (const [anchor, ext] of [['not-ca-anchor', 'basicConstraints=CA:FALSE\n'], ['no-constraints-anchor', '']] as const) {
      const r = await judged(anchor, ext)
      expect([r.handshake, r.verifyError], anchor).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNKNOWN_CA$/), 'verify error:num=79:invalid CA certificate'])
      expect(r.check, anchor).toEqual({
        ok: false,
        problems: [`endpoints[0].tls.cert: ${r.leaf}: endpoint "under-${anchor}": CA certificate "CN=${anchor}" of the client chain is not a CA certificate (basicConstraints CA:FALSE or absent): TLS servers refuse a client certificate under it`],
      })
    }
  })

  it('an anchor whose extended key usage excludes clientAuth: s_server refuses, check names it; anyExtendedKeyUsage alone is a warning', async () => {
    const serverOnly = await judged('server-eku-anchor', `${CA_EXTENSIONS}extendedKeyUsage=serverAuth\n`)
    expect([serverOnly.handshake, serverOnly.verifyError]).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/), refusedPurpose])
    expect(serverOnly.check).toEqual({
      ok: false,
      problems: [`endpoints[0].tls.cert: ${serverOnly.leaf}: endpoint "under-server-eku-anchor": root certificate "CN=server-eku-anchor" of the client chain has an extended key usage without clientAuth (serverAuth): TLS servers refuse a client certificate under it`],
    })
    const any = await judged('any-eku-anchor', `${CA_EXTENSIONS}extendedKeyUsage=anyExtendedKeyUsage\n`)
    expect([any.handshake, any.verifyError]).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/), refusedPurpose])
    expect(any.check).toEqual({
      ok: true,
      problems: [`endpoints[0].tls.cert: warning: ${any.leaf}: endpoint "under-any-eku-anchor": root certificate "CN=any-eku-anchor" has the extended key usage anyExtendedKeyUsage, without clientAuth: servers on Go crypto/tls or Java take anyExtendedKeyUsage for clientAuth, but OpenSSL-based servers (nginx, HAProxy) refuse a client certificate under it ("unsuitable certificate purpose"); reissue it with clientAuth for those`],
    })
  })

  it('anchors OpenSSL takes (keyCertSign without basicConstraints; clientAuth beside serverAuth), and a client certificate trusted as itself, pass both', async () => {
    for (const [anchor, ext] of [['key-cert-sign-anchor', 'keyUsage=critical,keyCertSign\n'], ['client-eku-anchor', `${CA_EXTENSIONS}extendedKeyUsage=clientAuth,serverAuth\n`]] as const) {
      const r = await judged(anchor, ext)
      expect([r.handshake, r.check], anchor).toEqual(['HTTP/1.0 200 ok', { ok: true, problems: [] }])
    }
    const self = mint('self-trusted', undefined, CLIENT_EXTENSIONS)
    const server = await sServer(self, 1)
    expect(await handshake(server, self, pkiOf().file('self-trusted.key'))).toBe('HTTP/1.0 200 ok')
    expect(check('self-trusted', { cert: self, key: pkiOf().file('self-trusted.key'), roots: pkiOf().file('root.crt'), clientRoots: self })).toEqual({ ok: true, problems: [] })
  })
})
