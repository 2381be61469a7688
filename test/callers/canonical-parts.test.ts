/**
 * A compact JWS or JWE has one spelling: each part is base64url without padding, whitespace or line
 * breaks (RFC 7515 §2, §7.1; RFC 7516 §7.1), and the unused low bits of its last character are zero.
 * jose decodes leniently (atob: whitespace skipped, `=` taken, the unused bits ignored), so one
 * signed assertion, or one JWE, had many spellings, each accepted: a caller-visible token that is
 * not the one the app signed or encrypted. Every other spelling is refused as malformed, untouched
 * parts or not, before any key is used.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CompactEncrypt, SignJWT } from 'jose'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { authFailureLabel, compileGatewayKeys, resolveBearer, verifyCallerAssertion } from '../../src/callers/index.js'
import { CallersMemoryStore } from '../support/callers-memory-store.js'
import { send } from '../support/gateway.js'
import { spawnGateway, type GatewayProcess } from '../support/process.js'
import { createTestPki, type TestPki } from '../support/pki.js'
import { gatewayYaml, startDanceProvider, type DanceProvider } from '../oauth1-dance/dance-support.js'
import { claims, nowMs, pythonJwe, rsaPair, signHs, signRs, testApps } from '../support/callers-fixtures.js'

const signer = rsaPair()
const gatewayKey = rsaPair()
const apps = testApps(signer)
const keys = compileGatewayKeys([{ kid: 'k1', privateKey: gatewayKey.privatePem }])
const opts = () => ({ apps, keys, clockSkewSec: 30, claimAliasPrefix: '', replay: new CallersMemoryStore(nowMs), now: nowMs })
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** What the gateway says of `token`: 'accepted', or the refusal's label and text (which never echoes the token). */
async function verdict(token: string, asBearer = false): Promise<string> {
  const run = asBearer ? resolveBearer(token, { store: new CallersMemoryStore(nowMs) }, opts()) : verifyCallerAssertion(token, opts())
  return run.then(
    () => 'accepted',
    (e: unknown) => {
      if (!(e instanceof GatewayError)) return `unexpected ${String(e)}`
      expect(e.message).not.toContain(token)
      return `${authFailureLabel(e) ?? e.reason}: ${e.message}`
    },
  )
}

/** Other spellings of one part, each decoding to the same bytes under a lenient base64 reader. */
type Respelling = { kind: 'pad' | 'space' | 'tab' | 'newline' | 'bits'; at: number }
function respell(part: string, r: Respelling): string | undefined {
  const at = part.length === 0 ? 0 : r.at % (part.length + 1)
  switch (r.kind) {
    case 'pad':
      return part.length % 4 === 0 ? undefined : part + '='.repeat(4 - (part.length % 4))
    case 'space':
      return part.slice(0, at) + ' ' + part.slice(at)
    case 'tab':
      return part.slice(0, at) + '\t' + part.slice(at)
    case 'newline':
      return part.slice(0, at) + '\r\n' + part.slice(at)
    case 'bits': {
      // The last character of a part of 2 or 3 characters past a multiple of 4 carries 4 or 2 unused bits.
      const spare = [0, 0, 0x0f, 0x03][part.length % 4] ?? 0
      if (spare === 0) return undefined
      const last = ALPHABET.indexOf(part.at(-1) ?? '')
      return part.slice(0, -1) + ALPHABET[last ^ (1 + (r.at % spare))]
    }
  }
}

const respelling = fc.record({ kind: fc.constantFrom('pad' as const, 'space' as const, 'tab' as const, 'newline' as const, 'bits' as const), at: fc.nat(10_000) })

async function tokens(): Promise<Record<string, string>> {
  const inner = await signRs(claims('rs-app'), signer.privateKey)
  const jose = (enc: string): Promise<string> =>
    new CompactEncrypt(new TextEncoder().encode(inner)).setProtectedHeader({ alg: 'RSA-OAEP', enc, kid: 'k1', cty: 'JWT' }).encrypt(gatewayKey.publicKey)
  return {
    hs256: await signHs(claims('hs-app')),
    rs256: await signRs(claims('rs-app'), signer.privateKey),
    'RSA-OAEP A128CBC-HS256': await jose('A128CBC-HS256'),
    'RSA-OAEP A256GCM': await jose('A256GCM'),
    'RSA1_5 A128GCM (python3-jwcrypto)': pythonJwe({ key: gatewayKey.publicPem, alg: 'RSA1_5', enc: 'A128GCM', kid: 'k1', payload: inner }),
  }
}

describe('compact tokens have one spelling', () => {
  it('property: a JWT or JWE with any part respelled (padding, whitespace, unused bits set) is refused as malformed; the canonical one is accepted (seeded)', async () => {
    const made = await tokens()
    for (const token of Object.values(made)) expect(await verdict(token)).toBe('accepted')
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(made)), fc.nat(4), respelling, async (name, index, r) => {
        const parts = (made[name] ?? '').split('.')
        const i = index % parts.length
        const other = respell(parts[i] ?? '', r)
        fc.pre(other !== undefined && other !== parts[i])
        parts[i] = other as string
        const token = parts.join('.')
        const expected = parts.length === 3 ? 'malformed: error verifying the jwt: not a well-formed JWT (each part must be unpadded base64url without whitespace)' : 'malformed: error decrypting the jwe: not a compact JWE (each part must be unpadded base64url without whitespace)'
        expect(await verdict(token)).toBe(expected)
        // A JWT is a bearer too: the same rule there.
        if (parts.length === 3 && !/\s/.test(token)) expect(await verdict(token, true)).toBe(expected)
      }),
      { seed: 3307, numRuns: 200 },
    )
  })
  it('examples: a padded signature, a signature with its unused bits set, a trailing newline', async () => {
    const jwt = await signHs(claims('hs-app'))
    const [h, p, s = ''] = jwt.split('.')
    const flipped = s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1) ?? '') ^ 1]
    const refused = 'malformed: error verifying the jwt: not a well-formed JWT (each part must be unpadded base64url without whitespace)'
    expect([await verdict(`${jwt}=`), await verdict(`${h}.${p}.${flipped}`), await verdict(`${jwt}\n`), await verdict(`${h}.${p}.${flipped}`, true)]).toEqual(Array(4).fill(refused))
  })
  it('examples: a JWE with a space in its ciphertext (RSA-OAEP, jose) or its tag\'s unused bits set (RSA1_5, the gateway\'s own decryption)', async () => {
    const made = await tokens()
    const oaep = (made['RSA-OAEP A256GCM'] ?? '').split('.')
    oaep[3] = `${oaep[3]?.slice(0, 8)} ${oaep[3]?.slice(8)}`
    const rsa15 = (made['RSA1_5 A128GCM (python3-jwcrypto)'] ?? '').split('.')
    const tag = rsa15[4] ?? ''
    rsa15[4] = tag.slice(0, -1) + ALPHABET[ALPHABET.indexOf(tag.at(-1) ?? '') ^ 1]
    const refused = 'malformed: error decrypting the jwe: not a compact JWE (each part must be unpadded base64url without whitespace)'
    expect([await verdict(oaep.join('.')), await verdict(rsa15.join('.'))]).toEqual([refused, refused])
  })
})

describe('a respelled token through the gateway (--workers 2)', () => {
  let pki: TestPki
  let provider: DanceProvider
  let gw: GatewayProcess
  let dir: string
  const secret = 'canonical-parts-hs256-secret-of-32-bytes'
  beforeAll(async () => {
    pki = await createTestPki()
    provider = await startDanceProvider(pki)
    dir = mkdtempSync(join(tmpdir(), 'canonical-parts-'))
    const callers = `callers:\n  required: true\n  apps:\n    - clientId: bot\n      hs256Secret: "${secret}"\n      audience: https://gateway.test\n      endpoints: ["*"]`
    const file = join(dir, 'gateway.yaml')
    writeFileSync(file, gatewayYaml({ pki, provider, store: { kind: 'sqlite', file: join(dir, 'state.db') }, callers }))
    gw = await spawnGateway(file, ['--workers', '2'])
  }, 120_000)
  afterAll(async () => {
    await gw?.stop('SIGKILL')
    await provider?.close()
    pki?.cleanup()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  it('POST /gateway/token and a JWT used as the bearer answer 401 in the standard body, never echoing the token, on either worker', async () => {
    const t = Math.floor(Date.now() / 1000)
    const jwt = await new SignJWT({ iss: 'bot', aud: 'https://gateway.test', sub: 'u1', iat: t, exp: t + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
    const msg = 'error verifying the jwt: not a well-formed JWT (each part must be unpadded base64url without whitespace)'
    const replies = []
    // Several connections of each kind, so that both workers answer some.
    for (let i = 0; i < 4; i++) {
      replies.push(await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: `${jwt}=` }) }))
      replies.push(await send(gw.url, '/gateway/oauth1/partner/authorize?format=json', { headers: { authorization: `Bearer ${jwt.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(jwt.at(-1) ?? '') ^ 1]}` } }))
    }
    for (const r of replies) {
      expect([r.status, r.json(), r.headers['content-length']]).toEqual([401, { errors: [{ msg, code: 401 }] }, String(r.body.length)])
      expect(r.text).not.toContain(jwt.split('.')[2]?.slice(0, 20))
    }
    // The canonical spelling is served.
    const fine = await send(gw.url, '/gateway/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ assertion: jwt }) })
    expect(fine.status).toBe(200)
  })
})
