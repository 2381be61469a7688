import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN } from '../support/process.js'
import { assertDistFresh } from '../support/dist-fresh.js'
import { privateKeyPem, issueCertificate } from '../../src/tls/index.js'

const run = promisify(execFile)
// Every test here runs dist/ (the CLI, the demo): refuse a build older than the sources.
assertDistFresh(['src', 'scripts'])
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [MAIN, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, stdout: err.stdout, stderr: err.stderr }
  }
}

describe('mtls-gateway command line', () => {
  it('pki writes a dev PKI, and check accepts it with a table', async () => {
    const pki = join(dir, 'pki')
    const r = await cli('pki', '--dir', pki, '--key', 'p384')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(join(pki, 'client.crt'))
    const config = join(dir, 'ok.yaml')
    writeFileSync(config, `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: pki/client.crt, key: pki/client.key, intermediates: pki/intermediate-ca.crt, roots: pki/root-ca.crt }\n`)
    const c = await cli('check', '--config', config)
    expect(c.code).toBe(0)
    const [head, row] = c.stdout.split('\n')
    expect(head).toMatch(/^ENDPOINT\s+CLIENT SUBJECT\s+ISSUER\s+KEY\s+CHAIN\s+NOT AFTER\s+DAYS LEFT$/)
    expect(row).toMatch(/^partner\s+CN=bot-runtime, OU=gateway, O=mtls-gateway dev\s+CN=mtls-gateway dev intermediate CA.*EC secp384r1\s+ok\s+\d{4}-\d\d-\d\dT.*\s+(29|30)$/)
    expect(c.stdout).toContain('is ok: 1 endpoint(s)')
  })

  it('check exits non-zero with one line per problem', async () => {
    const other = await issueCertificate({ subject: 'CN=stranger', kind: 'p256' })
    writeFileSync(join(dir, 'stranger.key'), privateKeyPem(other))
    const config = join(dir, 'bad.yaml')
    writeFileSync(config, `endpoints:\n  - name: a\n    url: https://a.test\n    tls: { cert: pki/client.crt, key: stranger.key, roots: pki/root-ca.crt }\n  - name: b\n    url: https://b.test\n    tls: { cert: missing.crt, key: pki/client.key, intermediates: pki/intermediate-ca.crt, roots: pki/root-ca.crt }\n`)
    const c = await cli('check', '--config', config)
    expect(c.code).toBe(1)
    const problems = c.stderr.split('\n').filter((l) => l.startsWith(dir))
    expect(problems).toEqual([
      // At each key's line and column in the config, naming the bundle file (before: the bundle file's name in place of the config's, no line).
      `${config}:4:39: endpoints[0].tls.key: ${join(dir, 'stranger.key')}: endpoint "a": private key does not match the client certificate "CN=bot-runtime, OU=gateway, O=mtls-gateway dev"`,
      expect.stringMatching(new RegExp(`^${config}:4:18: endpoints\\[0\\]\\.tls\\.cert: ${join(dir, 'pki', 'client.crt')}: endpoint "a": chain does not build to a configured root`)),
      `${config}:7:18: endpoints[1].tls.cert: ${join(dir, 'missing.crt')}: endpoint "b": cannot read file: ENOENT`,
    ])
    expect(c.stderr).toContain('check failed: 3 problem(s)')
  })

  it('check validates the interception CA: a key of another CA is one line, at caKey, naming the key file', async () => {
    const a = await cli('pki', 'interception-ca', '--dir', join(dir, 'ica-a'))
    const b = await cli('pki', 'interception-ca', '--dir', join(dir, 'ica-b'))
    expect(a.code + b.code).toBe(0)
    const config = join(dir, 'ica.yaml')
    const first = 'interception: { caCert: ica-a/interception-ca.crt, caKey: ica-b/interception-ca.key }'
    writeFileSync(config, `${first}\nendpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: pki/client.crt, key: pki/client.key, intermediates: pki/intermediate-ca.crt, roots: pki/root-ca.crt }\n`)
    const c = await cli('check', '--config', config)
    expect(c.code).toBe(1)
    // The key is what does not match: its key and its value's column (the certificate is sound, a CA's own).
    const column = first.indexOf('ica-b/') + 1
    expect(c.stderr).toContain(`${config}:1:${column}: interception.caKey: ${join(dir, 'ica-b', 'interception-ca.key')}: interception CA key does not match its certificate\n`)
    expect(c.stderr).not.toContain('interception.caCert')
  })

  it('check and serve refuse a listener key that does not match its certificate, naming the key file', async () => {
    const other = await issueCertificate({ subject: 'CN=stranger', kind: 'p256' })
    writeFileSync(join(dir, 'listener-stranger.key'), privateKeyPem(other))
    const config = join(dir, 'listener.yaml')
    const endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: pki/client.crt, key: pki/client.key, intermediates: pki/intermediate-ca.crt, roots: pki/root-ca.crt }\n`
    writeFileSync(config, `listen: { port: 0, tls: { cert: pki/server.crt, key: listener-stranger.key } }\nadmin: { enabled: false }\n${endpoint}`)
    const line = `${config}:1:25: listen.tls: ${join(dir, 'listener-stranger.key')}: private key does not match the certificate in ${join(dir, 'pki', 'server.crt')}`
    const c = await cli('check', '--config', config)
    expect(c.code).toBe(1)
    expect(c.stderr.split('\n').filter((l) => l.startsWith(dir))).toEqual([line])
    const s = await cli('serve', '--config', config)
    expect(s.code).toBe(1)
    expect(s.stderr).toContain(line)
    // The same files with the matching key: check accepts them.
    writeFileSync(config, `listen: { port: 0, tls: { cert: pki/server.crt, key: pki/server.key } }\nadmin: { enabled: false }\n${endpoint}`)
    expect((await cli('check', '--config', config)).code).toBe(0)
  })

  it('check refuses what a start refuses: caller apps and seal keys (check said ok, serve exited 1)', async () => {
    const endpoint = `endpoints:\n  - name: partner\n    url: https://api.partner.test:8443\n    tls: { cert: pki/client.crt, key: pki/client.key, intermediates: pki/intermediate-ca.crt, roots: pki/root-ca.crt }\n`
    const cases: [string, string, RegExp][] = [
      ['short-secret', `callers:\n  apps:\n    - { clientId: bot, audience: gw, hs256Secret: "short", endpoints: ["*"] }\n`, /callers\.apps\[0\].*32/],
      ['duplicate-app', `callers:\n  apps:\n    - { clientId: bot, audience: gw, hs256Secret: "${'a'.repeat(32)}", endpoints: ["*"] }\n    - { clientId: bot, audience: gw, hs256Secret: "${'b'.repeat(32)}", endpoints: ["*"] }\n`, /duplicate client id "bot"/],
      ['no-seal-keys', `profiles:\n  - { name: p, consumerKey: k, consumerSecret: s, requestTokenUrl: https://api.partner.test:8443/rt, accessTokenUrl: https://api.partner.test:8443/at, authorizeUrl: https://api.partner.test:8443/auth, token: { mode: per_user } }\n`, /store\.sealKeys: is required/],
    ]
    for (const [name, section, problem] of cases) {
      const config = join(dir, `${name}.yaml`)
      writeFileSync(config, `listen: { port: 0 }\nadmin: { enabled: false }\n${section}${section.startsWith('profiles') ? endpoint.replace('    tls:', '    profile: p\n    tls:') : endpoint}`)
      const c = await cli('check', '--config', config)
      expect([name, c.code], c.stdout + c.stderr).toEqual([name, 1])
      expect(c.stderr).toMatch(problem)
      const s = await cli('serve', '--config', config)
      expect([name, s.code]).toEqual([name, 1])
      expect(s.stderr).toMatch(problem)
    }
  })

  it('serve refuses a broken config with the file:line:key message and exit 1', async () => {
    const config = join(dir, 'broken.yaml')
    writeFileSync(config, 'endpoints:\n  - name: a\n    url: http://plain.test\n    tls: { dir: x }\n')
    const r = await cli('serve', '--config', config)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`${config}:3:10: endpoints[0].url: must match ^https://`)
  })

  it('oauth1 sign reproduces the RFC 5849 §1.2 photos request (signature MdpQcU8iPSUjWoN/UDMsK2sui9I=)', async () => {
    // RFC 5849 §1.2: GET http://photos.example.net/photos?file=vacation.jpg&size=original,
    // realm "Photos", timestamp 137131202, nonce chapoH, HMAC-SHA1.
    const r = await cli('oauth1', 'sign', '--url', 'http://photos.example.net/photos?file=vacation.jpg&size=original',
      '--consumer-key', 'dpf43f3p2l4k3l03', '--consumer-secret', 'kd94hf93k423kf44', '--token', 'nnch734d00sl2jdk',
      '--token-secret', 'pfkkdhi9sl3r4s00', '--realm', 'Photos', '--nonce', 'chapoH', '--timestamp', '137131202')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal')
    expect(r.stdout).toContain('MdpQcU8iPSUjWoN/UDMsK2sui9I=')
    expect(r.stdout).toContain('Authorization: OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"')
  })

  it('the demo runs end to end and shows every way in', async () => {
    const r = await run(process.execPath, ['dist/scripts/demo.js'], { timeout: 60_000 })
    const arrows = r.stdout.split('\n').filter((l) => l.trim().startsWith('→')).map((l) => l.trim())
    expect(arrows[0]).toBe('→ 403 client certificate required')
    expect(arrows[1]).toMatch(/^→ 407 \{"errors":\[\{"msg":"caller credentials required/)
    expect(arrows[2]).toMatch(/^→ 200 \{"access_token":/)
    for (const i of [3, 4, 6]) {
      expect(arrows[i]).toMatch(/^→ 200 \{"path":"\/v1\/[a-z?=0-9]+","clientCertificate":"bot-runtime","signature":"verified","oauthToken":"demo-token"/)
      expect(arrows[i]).toContain('"partnerKey":"pk-alice"')
    }
    expect(arrows[5]).toBe('→ 403 {"errors":[{"msg":"host example.com is not configured on this gateway","code":403}]}')
    expect(r.stdout).toMatch(/mtls_gateway_oauth_signatures_total\{profile="partner-oauth",method="HMAC-SHA1"\} 3/)
    // The dance: 401 with authorizeUrl, the browser hops, then a call signed with alice's own token.
    expect(arrows[7]).toMatch(/^→ 401 \{"errors":\[\{"authorizeUrl":"http:\/\/127\.0\.0\.1:\d+\/gateway\/oauth1\/partner-user\/authorize\?link=/)
    expect(r.stdout).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/gateway\/oauth1\/callback → 200 "Authorization complete"/)
    expect(arrows[8]).toMatch(/^→ 200 \{"path":"\/v1\/me","clientCertificate":"bot-runtime","signature":"verified","oauthToken":"user-[0-9a-f]+"/)
    expect(r.stdout).toMatch(/"endpoint":"partner"/)
  })
})
