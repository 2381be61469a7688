import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SignJWT, type JWTPayload } from 'jose'
import { compileCallerApps, type CallerApp } from '../../src/callers/index.js'

/** An RSA-2048 key pair with its PEMs (generated per test file: fast enough, never committed). */
export interface RsaPair {
  privateKey: KeyObject
  publicKey: KeyObject
  privatePem: string
  publicPem: string
}

export function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privateKey,
    publicKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }
}

export const HS_SECRET = 'a-test-secret-of-at-least-32-bytes!!'
export const AUDIENCE = 'https://gateway.test'

/** Two apps: `hs-app` (HS256, endpoint "payments") and `rs-app` (RS256 PEM, all endpoints, RSA1_5 allowed). */
export function testApps(rs: RsaPair, opts: { rsa15?: boolean } = {}): ReadonlyMap<string, CallerApp> {
  return compileCallerApps([
    { clientId: 'hs-app', hs256Secret: HS_SECRET, endpoints: ['payments'], audience: AUDIENCE },
    { clientId: 'rs-app', rs256PublicKey: rs.publicPem, endpoints: ['*'], audience: AUDIENCE, allowRsa15Jwe: opts.rsa15 ?? true },
  ])
}

export const NOW_SEC = 1_800_000_000
export const nowMs = (): number => NOW_SEC * 1000

/** Good claims for `iss`, overridable; `undefined` values delete the claim. */
export function claims(iss: string, over: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = { iss, aud: AUDIENCE, sub: 'user-1', iat: NOW_SEC - 10, exp: NOW_SEC + 600, ...over }
  for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k]
  return base as JWTPayload
}

export async function signHs(payload: JWTPayload, secret: string = HS_SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret))
}

export async function signRs(payload: JWTPayload, key: KeyObject): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(key)
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** A JWT built by hand, for tokens jose refuses to make (`none`, HMAC keyed with a public key). */
export function handJwt(header: Record<string, unknown>, payload: JWTPayload, hmacKey?: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`
  const sig = hmacKey === undefined ? '' : createHmac('sha256', hmacKey).update(input).digest('base64url')
  return `${input}.${sig}`
}

const MAKER = fileURLToPath(new URL('../peers/jwe_make.py', import.meta.url))

/** A compact JWE made by python3-jwcrypto (an independent implementation). */
export function pythonJwe(req: { key: string | object; alg: string; enc: string; kid?: string; payload: string }): string {
  // Debian's jwcrypto is installed for /usr/bin/python3 only.
  const r = spawnSync('/usr/bin/python3', [MAKER], { input: JSON.stringify(req), encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`jwe_make.py failed: ${r.stderr}`)
  return r.stdout
}
