/**
 * Client bundles OpenSSL servers refuse for what names, signatures, dates and extended key usage
 * do not show: a client certificate whose key usage has neither digitalSignature nor keyAgreement
 * (RSA and EC), a CA's basicConstraints pathlen exceeded (the root's, an intermediate's), a CA
 * whose key usage lacks keyCertSign, a CA without basicConstraints CA:TRUE. Each is shown refused
 * by `openssl s_server -Verify 2 -verify_return_error` (its verify error, and the alert the client
 * gets) and named by `check`, one line per problem at the key and file of the certificate at
 * fault (a CA whose pathlen is exceeded at `roots`, `clientRoots`, `intermediates` or `cert`,
 * whichever it came from: it was at `cert` whatever the CA), and `serve` refuses to start on it. `check` passed the first three kinds, and named the
 * keyCertSign one as basicConstraints CA:FALSE and its chain as "no issuer found". Every
 * certificate is minted by the real `openssl` CLI. A valid bundle, and a leaf with keyAgreement
 * alone (OpenSSL accepts it), still pass and are accepted by the same server.
 *
 * An extended key usage of anyExtendedKeyUsage without clientAuth (on the client certificate or
 * its intermediate) is refused by `openssl s_server -Verify 1 -verify_return_error` ("unsuitable
 * certificate purpose": OpenSSL's client purpose wants clientAuth), but a real Go crypto/tls
 * backend requiring client certificates takes it, as Java's does: `check` passes it with a warning
 * naming anyExtendedKeyUsage and the servers that refuse it, and `serve` starts and logs it. It
 * was a problem: `check` failed and the gateway did not start.
 */
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'
import { validateDraft } from '../../src/console/draft.js'
import { restartBaseline } from '../../src/runtime/index.js'
import { eventually } from '../support/eventually.js'
import { endpointYaml } from '../support/gateway.js'
import { startGoMtlsServer } from '../support/go-mtls-server.js'
import { CA_EXTENSIONS, CLIENT_EXTENSIONS, useOpensslBundles } from '../support/openssl-bundles.js'
import { spawnGateway } from '../support/process.js'

const { mint, chainFile, sServer, handshake, check, pki: pkiOf } = useOpensslBundles()
const CA = CA_EXTENSIONS
const CLIENT = CLIENT_EXTENSIONS

/**
 * A client certificate whose only extended key usage is anyExtendedKeyUsage (under the test
 * intermediate), and a clientAuth one under a CA whose only one is: minted once, by `openssl`.
 */
function anyEkuCases(): { name: string; leaf: string; ca: string; warning: string; under: string }[] {
  const made = (name: string): boolean => existsSync(pkiOf().file(`${name}.crt`))
  const anyCa = made('any-eku-ca') ? pkiOf().file('any-eku-ca.crt') : mint('any-eku-ca', 'root', `${CA}extendedKeyUsage=anyExtendedKeyUsage\n`)
  const leaf = made('any-eku-leaf') ? pkiOf().file('any-eku-leaf.crt') : mint('any-eku-leaf', 'inter', CLIENT.replace('extendedKeyUsage=clientAuth', 'extendedKeyUsage=anyExtendedKeyUsage'))
  const under = made('under-any-eku-ca') ? pkiOf().file('under-any-eku-ca.crt') : mint('under-any-eku-ca', 'any-eku-ca', CLIENT)
  const usage = 'has the extended key usage anyExtendedKeyUsage, without clientAuth: servers on Go crypto/tls or Java take anyExtendedKeyUsage for clientAuth, but'
  return [
    { name: 'any-eku-leaf', leaf, ca: pkiOf().file('inter.crt'), warning: `client certificate "CN=any-eku-leaf" ${usage}`, under: 'it' },
    { name: 'under-any-eku-ca', leaf: under, ca: anyCa, warning: `intermediate certificate "CN=any-eku-ca" ${usage}`, under: 'a client certificate under it' },
  ]
}


describe('client bundles OpenSSL servers refuse, named by check', () => {
  it('a client certificate whose key usage lacks digitalSignature (EC and RSA keys): s_server refuses its purpose, check names it', async () => {
    const server = await sServer(pkiOf().file('root.crt'))
    for (const kind of ['ec', 'rsa'] as const) {
      const name = `key-encipherment-${kind}`
      const leaf = mint(name, 'inter', 'basicConstraints=CA:FALSE\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=clientAuth\n', kind)
      const before = server.output().length
      expect(await handshake(server, chainFile(name, [leaf, pkiOf().file('inter.crt')]), pkiOf().file(`${name}.key`)), kind).toMatch(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/)
      await eventually(() => server.output().slice(before).includes('verify error:num=26:unsuitable certificate purpose'), undefined, 's_server to name the purpose')
      const tls = { cert: leaf, key: pkiOf().file(`${name}.key`), intermediates: pkiOf().file('inter.crt'), roots: pkiOf().file('root.crt') }
      expect(check(name, tls), kind).toEqual({
        ok: false,
        problems: [`endpoints[0].tls.cert: ${leaf}: endpoint "${name}": client certificate "CN=${name}" has a key usage without digitalSignature (keyEncipherment): TLS servers refuse it as a client certificate`],
      })
    }
  })

  it("a CA's pathlen exceeded (the root's pathlen:0 over an intermediate, an intermediate's pathlen:0 over another): s_server refuses the path length, check names the CA and the CA below it", async () => {
    mint('root-pathlen0', undefined, CA.replace('CA:TRUE', 'CA:TRUE,pathlen:0'))
    mint('inter-under-pathlen0', 'root-pathlen0', CA)
    // The test PKI's intermediate has pathlen:0: one more CA below it is one too many.
    mint('sub-inter', 'inter', CA)
    // The CA at fault is named at the key and file it came from: the root's at roots, the intermediate's at intermediates (both were at cert).
    const cases = [
      { name: 'under-root-pathlen0', issuer: 'inter-under-pathlen0', root: 'root-pathlen0', cas: ['inter-under-pathlen0'], ca: 'CN=root-pathlen0', at: 'roots' },
      { name: 'under-sub-inter', issuer: 'sub-inter', root: 'root', cas: ['sub-inter', 'inter'], ca: 'CN=Test Intermediate CA, O=mtls-gateway tests', at: 'intermediates' },
    ] as const
    for (const c of cases) {
      const leaf = mint(c.name, c.issuer, CLIENT)
      const cas = c.cas.map((n) => pkiOf().file(`${n}.crt`))
      const server = await sServer(pkiOf().file(`${c.root}.crt`))
      expect(await handshake(server, chainFile(c.name, [leaf, ...cas]), pkiOf().file(`${c.name}.key`)), c.name).toMatch(/^ERR_SSL_.*_ALERT_UNKNOWN_CA$/)
      await eventually(() => server.output().includes('verify error:num=25:path length constraint exceeded'), undefined, 's_server to name the path length')
      const tls = { cert: leaf, key: pkiOf().file(`${c.name}.key`), intermediates: chainFile(`${c.name}-cas`, cas), roots: pkiOf().file(`${c.root}.crt`) }
      const msg = `endpoint "${c.name}": CA certificate "${c.ca}" of the client chain allows 0 intermediate CA certificate(s) below it (basicConstraints pathlen:0) and the chain has 1 ("CN=${c.issuer}"): TLS servers refuse a client certificate under it`
      expect(check(c.name, tls), c.name).toEqual({ ok: false, problems: [`endpoints[0].tls.${c.at}: ${tls[c.at]}: ${msg}`] })
      // The same CAs given otherwise: the root in clientRoots, the intermediates after the client certificate in cert.
      const appended = chainFile(`${c.name}-appended`, [leaf, ...cas])
      const other = { cert: appended, key: tls.key, roots: pkiOf().file('root.crt'), clientRoots: tls.roots }
      const at = c.at === 'roots' ? 'clientRoots' : 'cert'
      expect(check(c.name, other), `${c.name}, given otherwise`).toEqual({ ok: false, problems: [`endpoints[0].tls.${at}: ${other[at]}: ${msg}`] })
    }
  })

  it('a CA whose key usage lacks keyCertSign, and one without basicConstraints: s_server calls each an invalid CA, check says which and why', async () => {
    const server = await sServer(pkiOf().file('root.crt'))
    const noCertSign = mint('no-cert-sign-ca', 'root', 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,cRLSign\n')
    const noConstraints = mint('no-constraints-ca', 'root', 'keyUsage=critical,keyCertSign,cRLSign\n')
    for (const [ca, name] of [['no-cert-sign-ca', 'under-no-cert-sign'], ['no-constraints-ca', 'under-no-constraints']] as const) {
      const leaf = mint(name, ca, CLIENT)
      const before = server.output().length
      expect(await handshake(server, chainFile(name, [leaf, pkiOf().file(`${ca}.crt`)]), pkiOf().file(`${name}.key`)), name).toMatch(/^ERR_SSL_.*_ALERT_UNKNOWN_CA$/)
      await eventually(() => server.output().slice(before).includes('verify error:num=79:invalid CA certificate'), undefined, 's_server to name the CA')
    }
    const key = { key: pkiOf().file('under-no-cert-sign.key'), roots: pkiOf().file('root.crt') }
    const why = 'basicConstraints CA:TRUE, but its key usage lacks keyCertSign: digitalSignature, cRLSign'
    expect(check('under-no-cert-sign', { cert: pkiOf().file('under-no-cert-sign.crt'), intermediates: noCertSign, ...key })).toEqual({
      ok: false,
      problems: [
        `endpoints[0].tls.intermediates: ${noCertSign}: endpoint "under-no-cert-sign": certificate #1 "CN=no-cert-sign-ca" is not a CA certificate (${why}): it cannot issue the certificate before it; reissue it with keyCertSign`,
        `endpoints[0].tls.cert: ${pkiOf().file('under-no-cert-sign.crt')}: endpoint "under-no-cert-sign": chain does not build to a configured root: "CN=no-cert-sign-ca" signed "CN=under-no-cert-sign" but is not a CA certificate (${why}), so no server takes it as its issuer`,
      ],
    })
    expect(check('under-no-constraints', { cert: pkiOf().file('under-no-constraints.crt'), key: pkiOf().file('under-no-constraints.key'), intermediates: noConstraints, roots: pkiOf().file('root.crt') })).toEqual({
      ok: false,
      problems: [`endpoints[0].tls.intermediates: ${noConstraints}: endpoint "under-no-constraints": certificate #1 "CN=no-constraints-ca" is not a CA certificate (basicConstraints CA:FALSE or absent): it cannot issue the certificate before it; a client or server certificate does not belong in this file`],
    })
  })

  it('anyExtendedKeyUsage alone, on the client certificate or on its intermediate: `openssl s_server -Verify 1 -verify_return_error` refuses its purpose (OpenSSL reads it as no clientAuth); check passes it with a warning that names it and the servers that refuse it', async () => {
    const server = await sServer(pkiOf().file('root.crt'), 1)
    const refused = 'OpenSSL-based servers (nginx, HAProxy) refuse'
    for (const c of anyEkuCases()) {
      const before = server.output().length
      expect(await handshake(server, chainFile(c.name, [c.leaf, c.ca]), pkiOf().file(`${c.name}.key`)), c.name).toMatch(/^ERR_SSL_.*_ALERT_UNSUPPORTED_CERTIFICATE$/)
      await eventually(() => server.output().slice(before).includes('verify error:num=26:unsuitable certificate purpose'), undefined, 's_server to name the purpose')
      // Said at the key and file of the certificate it is about: the client certificate's, or the intermediate's (intermediates).
      const [key, file] = c.under === 'it' ? ['cert', c.leaf] : ['intermediates', c.ca]
      const warning = `endpoints[0].tls.${key}: warning: ${file}: endpoint "${c.name}": ${c.warning} ${refused} ${c.under} ("unsuitable certificate purpose"); reissue it with clientAuth for those`
      expect(check(c.name, { cert: c.leaf, key: pkiOf().file(`${c.name}.key`), intermediates: c.ca, roots: pkiOf().file('root.crt') }), c.name).toEqual({ ok: true, problems: [warning] })
      // The console's draft validator: the same line, the draft valid.
      const yaml = pkiOf().file(`${c.name}.yaml`)
      const current = loadConfig(yaml)
      const draft = validateDraft(yaml, readFileSync(yaml, 'utf8'), current, restartBaseline(current))
      expect([draft.ok, draft.problems, draft.warnings?.map((w) => w.text.replace(/^\S+:\d+:\d+: /, ''))], c.name).toEqual([true, [], [warning]])
    }
    // Beside a usage that names neither, the other certificate is still a problem.
    const serverOnly = mint('server-eku-under-any', 'any-eku-ca', CLIENT.replace('clientAuth', 'serverAuth'))
    expect(check('server-eku-under-any', { cert: serverOnly, key: pkiOf().file('server-eku-under-any.key'), intermediates: pkiOf().file('any-eku-ca.crt'), roots: pkiOf().file('root.crt') })).toEqual({
      ok: false,
      problems: [`endpoints[0].tls.cert: ${serverOnly}: endpoint "server-eku-under-any": client certificate "CN=server-eku-under-any" has an extended key usage without clientAuth (serverAuth)`],
    })
  })

  it('serve starts on such bundles, logs the warning once, and a Go crypto/tls backend that requires client certificates takes both', async () => {
    const go = await startGoMtlsServer({ cert: pkiOf().file('server-chain.crt'), key: pkiOf().file('server.key'), ca: pkiOf().file('root.crt') })
    const cases = anyEkuCases()
    const endpoints = cases.map((c) => endpointYaml(c.name, go.port, { cert: c.leaf, key: pkiOf().file(`${c.name}.key`), intermediates: c.ca, roots: pkiOf().file('root.crt') })).join('')
    const config = pkiOf().write('any-eku-serve.yaml', `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\ncallers: { required: false }\nendpoints:\n${endpoints}`)
    const gp = await spawnGateway(config)
    try {
      for (const c of cases) {
        const r = await fetch(`${gp.url}/proxy/${c.name}/x`)
        expect([r.status, await r.text()], c.name).toEqual([200, `client CN=${c.name}`])
        const warned = gp.logEntries().filter((e) => e.level === 'warn' && String(e.msg).includes(`endpoint "${c.name}": ${c.warning}`))
        expect(warned.map((e) => e.key), c.name).toEqual([`endpoints[${cases.indexOf(c)}].tls.${c.under === 'it' ? 'cert' : 'intermediates'}`])
      }
    } finally {
      await gp.stop()
      await go.stop()
    }
  }, 120_000)

  it('serve refuses to start on such a bundle, in the words of check', async () => {
    const leaf = pkiOf().file('key-encipherment-ec.crt')
    const config = pkiOf().write('serve-refused.yaml', `listen: { host: 127.0.0.1, port: 0 }\nadmin: { enabled: false }\nendpoints:\n  - name: refused\n    url: https://api.partner.test:8443\n    tls: { cert: ${leaf}, key: ${pkiOf().file('key-encipherment-ec.key')}, intermediates: ${pkiOf().file('inter.crt')}, roots: ${pkiOf().file('root.crt')} }\n`)
    // A gateway that did start (the old code) is stopped before the verdict is asserted.
    const verdict = await spawnGateway(config).then(async (gp) => (await gp.stop(), 'started'), (e: Error) => e.message)
    expect(verdict).toContain(`endpoint "refused": client certificate "CN=key-encipherment-ec" has a key usage without digitalSignature (keyEncipherment)`)
  }, 120_000)

  it('a valid bundle, and a client certificate with keyAgreement alone (OpenSSL takes it for a client), pass check and s_server', async () => {
    const server = await sServer(pkiOf().file('root.crt'))
    const agreement = mint('key-agreement', 'inter', 'basicConstraints=CA:FALSE\nkeyUsage=critical,keyAgreement\nextendedKeyUsage=clientAuth\n')
    for (const [name, leaf] of [['client', pkiOf().file('client.crt')], ['key-agreement', agreement]] as const) {
      expect(await handshake(server, chainFile(name, [leaf, pkiOf().file('inter.crt')]), pkiOf().file(`${name}.key`)), name).toBe('HTTP/1.0 200 ok')
      expect(check(name, { cert: leaf, key: pkiOf().file(`${name}.key`), intermediates: pkiOf().file('inter.crt'), roots: pkiOf().file('root.crt') }), name).toEqual({ ok: true, problems: [] })
    }
  })
})
