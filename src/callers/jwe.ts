import type { ProtectedHeaderParameters } from 'jose'
import type { CallerApp } from './apps.js'
import { authError } from './auth-failure.js'
import type { AssertedCaller } from './caller.js'
import { jose, type Jose } from './jose.js'
import { verifySignedJwt, type VerifyOptions } from './jwt.js'
import { consumeJti } from './jti.js'
import type { GatewayKey, GatewayKeys } from './keys.js'
import { CANONICAL_PARTS, isCanonicalCompact } from './compact.js'
import { decryptRsa15, type ContentEncryption } from './rsa15.js'
import { refuseRepeatedMembers } from './repeated-members.js'

/** Key management algorithms the gateway accepts (RSA1_5 only for apps that opt in). */
export const JWE_ALGS = ['RSA-OAEP', 'RSA1_5'] as const
/** Content encryptions the gateway accepts. */
export const JWE_ENCS: readonly ContentEncryption[] = ['A128CBC-HS256', 'A128GCM', 'A256GCM']
/** One text for every decryption failure (wrong key, tampered tag, bad padding): no oracle. */
export const JWE_DECRYPT_FAILED = 'error decrypting the jwe: decryption failed (wrong key or tampered token)'

const PREFIX = 'error decrypting the jwe: '

/**
 * Decrypts a compact JWE assertion, then verifies the inner JWT and consumes its `jti`.
 *
 * RSA1_5 policy: the issuer is only known after decryption, so the header is refused up
 * front unless at least one app allows RSA1_5 (no app opted in → no oracle exposed at all),
 * and after decryption the issuing app must allow it, else refused before its `jti` is spent.
 * While some app allows it, the §11.5 random-key countermeasure in rsa15.ts hides padding
 * failures from everyone.
 */
export async function decryptAssertion(
  jwe: string,
  keys: GatewayKeys,
  apps: ReadonlyMap<string, CallerApp>,
  opts: VerifyOptions,
): Promise<AssertedCaller> {
  const { caller, inner } = await openJwe(jwe, keys, apps, opts)
  await consumeJti(caller, inner, opts)
  return caller
}

/** decryptAssertion without the `jti`: the caller and the inner JWT, whose `jti` is not spent yet. */
export async function openJwe(jwe: string, keys: GatewayKeys, apps: ReadonlyMap<string, CallerApp>, opts: VerifyOptions): Promise<{ caller: AssertedCaller; inner: string }> {
  const j = await jose()
  const header = readHeader(j, jwe)
  const { alg, enc } = checkAlgorithms(header, apps)
  const key = selectKey(keys, header.kid)
  const inner = Buffer.from(await decrypt(j, jwe, alg, enc, key)).toString('utf8')
  if (inner.split('.').length !== 3) {
    throw authError('malformed', `${PREFIX}the payload must be a signed JWT (compact JWS)`)
  }
  const { app, caller } = await verifySignedJwt(inner, apps, opts, true)
  if (alg === 'RSA1_5' && !app.allowRsa15Jwe) {
    throw authError('jwe_alg_not_allowed', `${PREFIX}app "${app.clientId}" may not use "alg" RSA1_5 (use RSA-OAEP)`)
  }
  return { caller, inner }
}

/** The key-management algorithm of a JWE that decryptAssertion accepted (it checked the header). */
export function jweAlgOf(jwe: string): (typeof JWE_ALGS)[number] {
  const { alg } = JSON.parse(Buffer.from(jwe.slice(0, jwe.indexOf('.')), 'base64url').toString('utf8')) as { alg?: unknown }
  const known = JWE_ALGS.find((a) => a === alg)
  if (known === undefined) throw new TypeError('jweAlgOf: the JWE was not accepted by decryptAssertion')
  return known
}

function readHeader(j: Jose, jwe: string): ProtectedHeaderParameters {
  if (jwe.split('.').length !== 5) throw authError('malformed', `${PREFIX}not a compact JWE`)
  if (!isCanonicalCompact(jwe)) throw authError('malformed', `${PREFIX}not a compact JWE (${CANONICAL_PARTS})`)
  let header: ProtectedHeaderParameters
  try {
    header = j.decodeProtectedHeader(jwe)
  } catch (e) {
    throw authError('malformed', `${PREFIX}protected header is not valid JSON`, { cause: e })
  }
  refuseRepeatedMembers(jwe.slice(0, jwe.indexOf('.')), 'its protected header', PREFIX, 'RFC 7516, section 4')
  return header
}

function checkAlgorithms(
  header: ProtectedHeaderParameters,
  apps: ReadonlyMap<string, CallerApp>,
): { alg: (typeof JWE_ALGS)[number]; enc: ContentEncryption } {
  const { alg, enc } = header
  const algOk = JWE_ALGS.find((a) => a === alg)
  const encOk = JWE_ENCS.find((e) => e === enc)
  if (algOk === undefined || encOk === undefined) {
    throw authError(
      'jwe_alg_not_allowed',
      `${PREFIX}"alg" must be one of ${JWE_ALGS.join(', ')} and "enc" one of ${JWE_ENCS.join(', ')}`,
    )
  }
  if (algOk === 'RSA1_5' && ![...apps.values()].some((a) => a.allowRsa15Jwe)) {
    throw authError('jwe_alg_not_allowed', `${PREFIX}"alg" RSA1_5 is not enabled for any app (use RSA-OAEP)`)
  }
  // Our RSA1_5 path implements neither; refuse for both algs so they behave alike.
  if (header.zip !== undefined || header.crit !== undefined) {
    throw authError('malformed', `${PREFIX}"zip" and "crit" header parameters are not supported`)
  }
  return { alg: algOk, enc: encOk }
}

function selectKey(keys: GatewayKeys, kid: unknown): GatewayKey {
  if (kid === undefined) {
    // Without a kid the choice is only unambiguous when there is one key.
    const only = keys.size === 1 ? [...keys.values()][0] : undefined
    if (only !== undefined) return only
    throw authError('jwe_unknown_kid', `${PREFIX}"kid" header is required (gateway keys: ${[...keys.keys()].join(', ')})`)
  }
  const key = typeof kid === 'string' ? keys.get(kid) : undefined
  if (key === undefined) {
    throw authError('jwe_unknown_kid', `${PREFIX}"kid" names no gateway key (gateway keys: ${[...keys.keys()].join(', ')})`)
  }
  return key
}

async function decrypt(j: Jose, jwe: string, alg: (typeof JWE_ALGS)[number], enc: ContentEncryption, key: GatewayKey): Promise<Uint8Array> {
  try {
    if (alg === 'RSA1_5') return decryptRsa15(jwe, enc, key.privateKey)
    const { plaintext } = await j.compactDecrypt(jwe, key.privateKey, {
      keyManagementAlgorithms: ['RSA-OAEP'],
      contentEncryptionAlgorithms: [...JWE_ENCS],
    })
    return plaintext
  } catch (e) {
    throw authError('jwe_decrypt_failed', JWE_DECRYPT_FAILED, { cause: e })
  }
}
