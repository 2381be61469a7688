/**
 * `oauth1 sign` as a user runs it: published vectors through every input form (a full
 * request, a given base string, JSON), extension oauth_* parameters, any oauth_version, an
 * encrypted key with its passphrase, and a body read from a file byte for byte.
 */
import { execFile } from 'node:child_process'
import { createHash, createPrivateKey } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN } from '../support/process.js'
import { WIKI_PRIVATE_KEY, WIKI_RSA_SIGNATURE } from '../support/oauth1-wiki-vectors.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-cli-sign-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const sign = async (...args: string[]): Promise<string> => (await run(process.execPath, [MAIN, 'oauth1', 'sign', ...args], { timeout: 30_000 })).stdout
const signJson = async (...args: string[]): Promise<Record<string, any>> => JSON.parse(await sign(...args, '--json')) as Record<string, any>

// OAuth Core 1.0 Appendix A.5 (photos request with oauth_version=1.0): signature tR3+Ty81lMeYAr/Fid0kMTYa/WM=.
const CORE_A5 = ['--url', 'http://photos.example.net/photos?file=vacation.jpg&size=original', '--consumer-key', 'dpf43f3p2l4k3l03',
  '--consumer-secret', 'kd94hf93k423kf44', '--token', 'nnch734d00sl2jdk', '--token-secret', 'pfkkdhi9sl3r4s00',
  '--nonce', 'kllo9940pd9333jh', '--timestamp', '1191242096']
const CORE_A5_BASE = 'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal'
const WIKI_RSA_BASE = 'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacaction.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3D13917289812797014437%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1196666512%26oauth_version%3D1.0%26size%3Doriginal'

describe('mtls-gateway oauth1 sign', () => {
  it('signs OAuth Core 1.0 A.5 as a request (--oauth-version, --json) and as a given base string', async () => {
    const whole = await signJson(...CORE_A5, '--oauth-version')
    expect(whole).toMatchObject({ signatureMethod: 'HMAC-SHA1', baseString: CORE_A5_BASE, signature: 'tR3+Ty81lMeYAr/Fid0kMTYa/WM=' })
    expect(whole.authorizationHeader).toContain('oauth_version="1.0", oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"')
    const text = await sign('--base-string', CORE_A5_BASE, '--consumer-secret', 'kd94hf93k423kf44', '--token-secret', 'pfkkdhi9sl3r4s00')
    expect(text).toBe(`Signature base string:\n${CORE_A5_BASE}\n\nSignature (HMAC-SHA1):\ntR3+Ty81lMeYAr/Fid0kMTYa/WM=\n`)
  })

  it('takes the consumer and token secrets from the environment, so they need not be on the command line (ps, shell history)', async () => {
    const noSecrets = CORE_A5.filter((a, i, all) => !['--consumer-secret', '--token-secret'].includes(a) && !['--consumer-secret', '--token-secret'].includes(all[i - 1] as string))
    const env = { ...process.env, MTLS_GATEWAY_CONSUMER_SECRET: 'kd94hf93k423kf44', MTLS_GATEWAY_TOKEN_SECRET: 'pfkkdhi9sl3r4s00' }
    const r = await run(process.execPath, [MAIN, 'oauth1', 'sign', ...noSecrets, '--oauth-version', '--json'], { env, timeout: 30_000 })
    expect(JSON.parse(r.stdout).signature).toBe('tR3+Ty81lMeYAr/Fid0kMTYa/WM=')
    // Without either, the missing consumer secret is named with its variable.
    const { MTLS_GATEWAY_CONSUMER_SECRET: _c, MTLS_GATEWAY_TOKEN_SECRET: _t, ...bare } = process.env
    const refused = await run(process.execPath, [MAIN, 'oauth1', 'sign', ...noSecrets], { env: bare, timeout: 30_000 }).then(() => undefined, (e: { stderr: string }) => e.stderr)
    expect(refused).toMatch(/--consumer-secret \(or MTLS_GATEWAY_CONSUMER_SECRET\) is required/)
  })

  it('sends any oauth_version value and extension oauth_* parameters, signed', async () => {
    const r = await signJson(...CORE_A5, '--oauth-version', '2.0-draft', '--oauth-param', 'oauth_session_handle=h/1', '--oauth-param', 'oauth_ext=x y')
    expect(r.baseString).toContain('%26oauth_ext%3Dx%2520y%26oauth_nonce%3D')
    expect(r.baseString).toContain('%26oauth_session_handle%3Dh%252F1%26oauth_signature_method')
    expect(r.baseString).toContain('%26oauth_version%3D2.0-draft%26')
    expect(r.oauthParams).toMatchObject({ oauth_version: '2.0-draft', oauth_session_handle: 'h/1', oauth_ext: 'x y' })
    const again = await sign('--base-string', r.baseString as string, '--consumer-secret', 'kd94hf93k423kf44', '--token-secret', 'pfkkdhi9sl3r4s00', '--json')
    expect(JSON.parse(again).signature).toBe(r.signature)
  })

  it('reproduces the wiki RSA-SHA1 vector with the key encrypted under a passphrase (flag or environment)', async () => {
    const encrypted = join(dir, 'wiki-encrypted.pem')
    writeFileSync(encrypted, createPrivateKey(WIKI_PRIVATE_KEY).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }))
    const args = ['--url', 'http://photos.example.net/photos?file=vacaction.jpg&size=original', '--consumer-key', 'dpf43f3p2l4k3l03',
      '--signature-method', 'RSA-SHA1', '--key-file', encrypted, '--nonce', '13917289812797014437', '--timestamp', '1196666512', '--oauth-version']
    const r = await signJson(...args, '--key-passphrase', 'correct horse')
    expect(r).toMatchObject({ baseString: WIKI_RSA_BASE, signature: WIKI_RSA_SIGNATURE })
    const env = await run(process.execPath, [MAIN, 'oauth1', 'sign', ...args, '--base-string', WIKI_RSA_BASE, '--json'], { env: { ...process.env, MTLS_GATEWAY_KEY_PASSPHRASE: 'correct horse' } })
    expect(JSON.parse(env.stdout).signature).toBe(WIKI_RSA_SIGNATURE)
  })

  it('reads the body from a file byte for byte (form parameters signed; body hash over the bytes)', async () => {
    const form = join(dir, 'form.txt')
    writeFileSync(form, 'a=1&b=%E2%9C%93')
    const fromFile = await signJson(...CORE_A5, '-X', 'POST', '--content-type', 'application/x-www-form-urlencoded', '--body-file', form)
    const inline = await signJson(...CORE_A5, '-X', 'POST', '--content-type', 'application/x-www-form-urlencoded', '--body', 'a=1&b=%E2%9C%93')
    expect(fromFile.signature).toBe(inline.signature)
    expect(fromFile.baseString).toContain('a%3D1%26b%3D%25E2%259C%2593')
    const binary = join(dir, 'body.bin')
    const bytes = Buffer.from([0, 255, 254, 10, 13, 0x80])
    writeFileSync(binary, bytes)
    const hashed = await signJson(...CORE_A5, '-X', 'PUT', '--content-type', 'application/octet-stream', '--body-file', binary, '--body-hash')
    expect(hashed.oauthParams.oauth_body_hash).toBe(createHash('sha1').update(bytes).digest('base64'))
  })

  it('refuses, as the gateway does, a query or form body whose octets verifiers read differently, naming what to send', async () => {
    const refused = (...args: string[]): Promise<{ code: number; stderr: string } | undefined> =>
      run(process.execPath, [MAIN, 'oauth1', 'sign', ...args], { timeout: 30_000 }).then(() => undefined, (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }))
    const base = CORE_A5.slice(2)
    expect(await refused('--url', 'http://photos.example.net/photos?name=Ren%E9', ...base)).toEqual({ code: 1,
      stderr: 'mtls-gateway: the query (--url) has a percent-escape whose octets are not UTF-8 (python-oauthlib reads U+FFFD, PHP the octet), so no signature would verify everywhere: percent-encode text as UTF-8 (é is %C3%A9)\n' })
    expect((await refused('--url', 'http://photos.example.net/photos?a=%zz', ...base))?.stderr).toContain('the query (--url) has a "%" not followed by two hex digits (at offset 2)')
    const form = ['-X', 'POST', '--content-type', 'application/x-www-form-urlencoded']
    expect((await refused(...CORE_A5, ...form, '--body', 'name=Ren%E9'))?.stderr).toContain('the form body has a percent-escape whose octets are not UTF-8')
    const latin1 = join(dir, 'latin1.form')
    writeFileSync(latin1, Buffer.from([0x6e, 0x3d, 0xe9]))
    expect((await refused(...CORE_A5, ...form, '--body-file', latin1))?.stderr).toContain('the form body has a raw non-ASCII byte (0xE9 at offset 2)')
    expect((await refused(...CORE_A5, '-X', 'POST', '--content-type', 'application/x-www-form-urlencoded; charset=iso-8859-1', '--body', 'n=%C3%A9'))?.stderr).toContain('charset is not UTF-8')
    // What verifies everywhere is signed; a non-form body is not read as parameters.
    expect((await signJson('--url', 'http://photos.example.net/photos?name=Ren%C3%A9&f%5Ba%5D=1', ...base, ...form, '--body', 'b=%E2%9C%93')).baseString).toContain('name%3DRen%25C3%25A9')
    expect((await signJson(...CORE_A5, '-X', 'POST', '--content-type', 'text/plain', '--body', 'a=%E9[')).signature).toEqual(expect.any(String))
  })

  it('signs, as the gateway sends, a raw "[" (page[size]=10), space or "|" percent-encoded once, and prints the URL and form body it signed', async () => {
    const base = CORE_A5.slice(2)
    const form = ['-X', 'POST', '--content-type', 'application/x-www-form-urlencoded']
    const raw = await signJson('--url', 'http://photos.example.net/photos?page[size]=10&filter%5Bname%5D=x', ...base, ...form, '--body', 'tags[]=a b&q=x|y')
    const encoded = await signJson('--url', 'http://photos.example.net/photos?page%5Bsize%5D=10&filter%5Bname%5D=x', ...base, ...form, '--body', 'tags%5B%5D=a%20b&q=x%7Cy')
    expect(raw.url).toBe('http://photos.example.net/photos?page%5Bsize%5D=10&filter%5Bname%5D=x')
    expect(raw.sentBody).toBe('tags%5B%5D=a%20b&q=x%7Cy')
    expect(encoded.sentBody).toBeUndefined()
    expect(raw.signature).toBe(encoded.signature)
    expect(raw.baseString).toContain('page%255Bsize%255D%3D10')
    const text = await sign('--url', 'http://photos.example.net/photos?ids[]=1', ...base, ...form, '--body', 'a b=1')
    expect(text).toContain('URL:\nhttp://photos.example.net/photos?ids%5B%5D=1\n\nBody (raw characters percent-encoded, as signed):\na%20b=1\n')
    const inBody = await signJson('--url', 'http://photos.example.net/photos?ids[]=1', ...base, ...form, '--placement', 'body', '--body', 'a b=1')
    expect(inBody.body).toMatch(/^oauth_.*&a%20b=1$/)
    expect(inBody.sentBody).toBeUndefined()
  })
})

