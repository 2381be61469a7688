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
 * client certificate trusted as itself still pass both. An anchor's problem is named at the key and
 * file it came from (`clientRoots`, `roots`: its line of the config), not at the client's `cert`
 * (before, it was: the file named was the client certificate's). Every certificate is minted by `openssl`.
 */
import { describe, expect, it } from 'vitest'
import { runCheck } from '../../src/cli/check.js'
import { eventually } from '../support/eventually.js'
import { CA_EXTENSIONS, CLIENT_EXTENSIONS, useOpensslBundles } from '../support/openssl-bundles.js'

const { mint, sServer, handshake, check, pki: pkiOf } = useOpensslBundles()

/** A client certificate under a new self-signed anchor with the extensions `ext`: s_server's verdict (status line or client error, and its verify error) and check's. */
async function judged(anchor: string, ext: string): Promise<{ handshake: string; verifyError: string; check: ReturnType<typeof check>; leaf: string; anchorFile: string }> {
  const anchorFile = mint(anchor, undefined, ext)
  const name = `under-${anchor}`
  const leaf = mint(name, anchor, CLIENT_EXTENSIONS)
  const server = await sServer(anchorFile, 1)
  const answer = await handshake(server, leaf, pkiOf().file(`${name}.key`))
  const verifyError = answer.startsWith('HTTP/') ? '' : await eventually(() => /verify error:num=\d+:[^\n]*/.exec(server.output())?.[0], undefined, 's_server to name its verify error')
  return { handshake: answer, verifyError, check: check(name, { cert: leaf, key: pkiOf().file(`${name}.key`), roots: pkiOf().file('root.crt'), clientRoots: anchorFile }), leaf, anchorFile }
}

const refusedPurpose = 'verify error:num=26:unsuitable certificate purpose'

describe("the client chain's self-signed anchor, judged as an OpenSSL server judges its copy", () => {
  it('a self-signed anchor that is no CA (basicConstraints CA:FALSE; a v3 certificate with neither it nor keyCertSign): s_server refuses, check names it', async () => {
    for (const [anchor, ext] of [['not-ca-anchor', 'basicConstraints=CA:FALSE\n'], ['no-constraints-anchor', '']] as const) {
      const r = await judged(anchor, ext)
      expect([r.handshake, r.verifyError], anchor).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNKNOWN_CA$/), 'verify error:num=79:invalid CA certificate'])
      expect(r.check, anchor).toEqual({
        ok: false,
        problems: [`endpoints[0].tls.clientRoots: ${r.anchorFile}: endpoint "under-${anchor}": CA certificate "CN=${anchor}" of the client chain is not a CA certificate (basicConstraints CA:FALSE or absent): TLS servers refuse a client certificate under it`],
      })
    }
  })

  it('an anchor whose extended key usage excludes clientAuth: s_server refuses, check names it; anyExtendedKeyUsage alone is a warning', async () => {
    const serverOnly = await judged('server-eku-anchor', `${CA_EXTENSIONS}extendedKeyUsage=serverAuth\n`)
    expect([serverOnly.handshake, serverOnly.verifyError]).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/), refusedPurpose])
    expect(serverOnly.check).toEqual({
      ok: false,
      problems: [`endpoints[0].tls.clientRoots: ${serverOnly.anchorFile}: endpoint "under-server-eku-anchor": root certificate "CN=server-eku-anchor" of the client chain has an extended key usage without clientAuth (serverAuth): TLS servers refuse a client certificate under it`],
    })
    const any = await judged('any-eku-anchor', `${CA_EXTENSIONS}extendedKeyUsage=anyExtendedKeyUsage\n`)
    expect([any.handshake, any.verifyError]).toEqual([expect.stringMatching(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/), refusedPurpose])
    expect(any.check).toEqual({
      ok: true,
      problems: [`endpoints[0].tls.clientRoots: warning: ${any.anchorFile}: endpoint "under-any-eku-anchor": root certificate "CN=any-eku-anchor" has the extended key usage anyExtendedKeyUsage, without clientAuth: servers on Go crypto/tls or Java take anyExtendedKeyUsage for clientAuth, but OpenSSL-based servers (nginx, HAProxy) refuse a client certificate under it ("unsuitable certificate purpose"); reissue it with clientAuth for those`],
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

  it('names the anchor\'s problem at the line of the key it came from, clientRoots or roots, with its file', () => {
    const anchorFile = mint('placed-anchor', undefined, 'basicConstraints=CA:FALSE\n')
    const leaf = mint('under-placed-anchor', 'placed-anchor', CLIENT_EXTENSIONS)
    const key = pkiOf().file('under-placed-anchor.key')
    const msg = 'endpoint "placed": CA certificate "CN=placed-anchor" of the client chain is not a CA certificate (basicConstraints CA:FALSE or absent): TLS servers refuse a client certificate under it'
    // Block style, a key a line: the problem's line says which key it is at.
    const lines = (rootsKey: string): string[] => ['endpoints:', '  - name: placed', '    url: https://api.partner.test:8443', '    tls:', `      cert: ${leaf}`, `      key: ${key}`, rootsKey]
    // file:line:column of the key's value (the list), then the key and the anchor's file.
    for (const [key_, rootsKey, place] of [
      ['clientRoots', `      roots: [${pkiOf().file('root.crt')}]\n      clientRoots: [${anchorFile}]`, '8:20'],
      ['roots', `      roots: [${anchorFile}]`, '7:14'],
    ] as const) {
      const config = pkiOf().write(`placed-${key_}.yaml`, `${lines(rootsKey).join('\n')}\n`)
      const r = runCheck(config)
      expect(r.ok, r.output).toBe(false)
      expect(r.output.split('\n').filter((l) => l.includes('placed-anchor" of the client chain')), key_).toEqual([`${config}:${place}: endpoints[0].tls.${key_}: ${anchorFile}: ${msg}`])
    }
  })
})
