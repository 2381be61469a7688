import { createHash, createPublicKey, createSecretKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { TENANT_LABEL } from '../config/index.js'
import { compileTenantRestriction, type TenantRestriction } from './tenants.js'

/** A registered caller app as written in the config (validated shape). */
export interface CallerAppConfig {
  clientId: string
  /** Shared secret for HS256 assertions (UTF-8, at least 32 bytes per RFC 7518 §3.2). */
  hs256Secret?: string
  /** Public key for RS256 assertions: PEM (SPKI, PKCS#1 or certificate) or a JWK object. */
  rs256PublicKey?: string | JsonWebKey
  /** Endpoint names the app may use; `'*'` means all. */
  endpoints: readonly string[]
  /** The `aud` every assertion from this app must name. */
  audience: string
  /** RSA1_5 JWE has a padding-oracle risk, so it is opt-in per app. */
  allowRsa15Jwe?: boolean
  /** The only tenants the app's calls may name (lower-case DNS labels); absent: any. */
  tenants?: readonly string[]
  /** A claim of the caller's JWT/JWE that must name the call's tenant; absent: no claim rule. */
  tenantClaim?: string
  /** Longest `exp − iat` of a JWT without `jti`, seconds; absent: none. */
  jwtMaxLifetimeSec?: number
}

/** A caller app compiled at load: the key imported once, ready for jose. */
export interface CallerApp {
  readonly clientId: string
  readonly alg: 'HS256' | 'RS256'
  readonly key: KeyObject
  /** A fingerprint of `key` (never the key): bearers remember it, so rotating a leaked secret or key ends them. */
  readonly keyId: string
  readonly audience: string
  readonly anyEndpoint: boolean
  readonly endpoints: ReadonlySet<string>
  readonly allowRsa15Jwe: boolean
  /** Which tenants its calls may name; undefined: any. */
  readonly tenantRestriction: TenantRestriction | undefined
  /** Longest `exp − iat` of a JWT without `jti`, seconds; undefined: none. */
  readonly jwtMaxLifetimeSec: number | undefined
}

/** Where compile problems are reported (the config loader knows the file). */
export interface CompileWhere {
  file: string
  key: string
  /** Each entry's index in the config's list, when only some entries are compiled (default: its own). */
  indices?: readonly number[]
}

const MIN_HS256_BYTES = 32
const MIN_RSA_BITS = 2048

/** Compiles every app, keyed by client id; throws ConfigError listing all problems. */
export function compileCallerApps(
  configs: readonly CallerAppConfig[],
  where: CompileWhere = { file: 'config', key: 'callers' },
): ReadonlyMap<string, CallerApp> {
  const apps = new Map<string, CallerApp>()
  const problems: ConfigProblem[] = []
  // Tracked apart from the map so a duplicate of an entry that failed is still reported.
  const seen = new Set<string>()
  // Which app each key (by fingerprint, never the key) went to first.
  const keyOwners = new Map<string, string>()
  configs.forEach((config, i) => {
    const at = (field: string, msg: string): void => {
      problems.push({ file: where.file, line: 0, column: 0, key: `${where.key}[${where.indices?.[i] ?? i}]${field}`, msg })
    }
    if (seen.has(config.clientId)) at('.clientId', `duplicate client id "${config.clientId}"`)
    seen.add(config.clientId)
    try {
      const app = compileCallerApp(config)
      // The key decides who may sign as which app (`iss`): whoever holds a key two apps share can
      // assert as either, with its endpoints, tenants and users, and the apps are one app in effect.
      const owner = keyOwners.get(app.keyId)
      if (owner !== undefined && owner !== app.clientId) {
        at(app.alg === 'HS256' ? '.hs256Secret' : '.rs256PublicKey', `app "${app.clientId}" has the same key as app "${owner}": either could sign assertions as the other (its endpoints, tenants and users); give each app its own`)
      }
      keyOwners.set(app.keyId, owner ?? app.clientId)
      apps.set(config.clientId, app)
    } catch (e) {
      at(e instanceof AppKeyError ? e.field : '', (e as Error).message)
    }
  })
  if (problems.length > 0) throw new ConfigError(problems)
  return apps
}

class AppKeyError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

/** Compiles one app; throws when the key material is missing, ambiguous or too weak. */
export function compileCallerApp(config: CallerAppConfig): CallerApp {
  const hasSecret = config.hs256Secret !== undefined
  const hasKey = config.rs256PublicKey !== undefined
  if (hasSecret === hasKey) {
    throw new AppKeyError('', `app "${config.clientId}": exactly one of hs256Secret or rs256PublicKey is required`)
  }
  if (config.clientId === '') throw new AppKeyError('.clientId', 'client id must not be empty')
  if (config.audience === '') throw new AppKeyError('.audience', 'audience must not be empty')
  checkTenantOptions(config)
  const alg = hasSecret ? 'HS256' : 'RS256'
  const key = hasSecret ? importSecret(config.hs256Secret ?? '') : importPublicKey(config.rs256PublicKey ?? '')
  return Object.freeze({
    clientId: config.clientId,
    alg,
    key,
    keyId: keyFingerprint(key),
    audience: config.audience,
    anyEndpoint: config.endpoints.includes('*'),
    endpoints: new Set(config.endpoints.filter((e) => e !== '*')),
    allowRsa15Jwe: config.allowRsa15Jwe ?? false,
    tenantRestriction: compileTenantRestriction(config.tenants, config.tenantClaim),
    jwtMaxLifetimeSec: config.jwtMaxLifetimeSec,
  })
}

/**
 * A short, labelled SHA-256 of the verification key's bytes (an HS256 secret's, an RS256 key's
 * SPKI). It tells keys apart without revealing one; for a guessable HS256 secret it is no better
 * an oracle than any assertion signed with it.
 */
function keyFingerprint(key: KeyObject): string {
  const material = key.type === 'secret' ? key.export() : key.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update('mtls-gateway caller app key\0').update(material).digest('base64url').slice(0, 22)
}

/** The schema says the same; repeated here because apps are also compiled outside the loader. */
function checkTenantOptions(config: CallerAppConfig): void {
  const { tenants, tenantClaim } = config
  // Empty would read as "no tenant" to some and "any tenant" to others: refused, not guessed.
  if (tenants !== undefined && tenants.length === 0) throw new AppKeyError('.tenants', 'tenants must name at least one tenant (leave it out to allow any)')
  const bad = tenants?.find((t) => !TENANT_LABEL.test(t))
  if (bad !== undefined) throw new AppKeyError('.tenants', `tenant "${bad}" is not a lower-case DNS label`)
  if (tenantClaim === '') throw new AppKeyError('.tenantClaim', 'tenantClaim must not be empty')
}

function importSecret(secret: string): KeyObject {
  const bytes = Buffer.from(secret, 'utf8')
  // RFC 7518 §3.2: an HS256 key shorter than the hash output is not allowed.
  if (bytes.length < MIN_HS256_BYTES) {
    throw new AppKeyError('.hs256Secret', `hs256Secret must be at least ${MIN_HS256_BYTES} bytes`)
  }
  // A public key is no secret: as the HMAC key, whoever has the public key signs for the app
  // (the RS256-to-HS256 confusion, made in the config instead of the token).
  if (isPublicKeyText(secret)) {
    throw new AppKeyError('.hs256Secret', 'hs256Secret holds a public key or certificate, which is no secret (whoever has it could sign as this app): give a random secret, or the key as rs256PublicKey')
  }
  return createSecretKey(bytes)
}

/** PEM armour of a public key or certificate, or a JWK's JSON text without a private part. */
function isPublicKeyText(text: string): boolean {
  if (/-----BEGIN (?:RSA |EC )?PUBLIC KEY-----|-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/.test(text)) return true
  if (!text.trimStart().startsWith('{')) return false
  try {
    const jwk = JSON.parse(text) as JsonWebKey
    return typeof jwk.kty === 'string' && jwk.d === undefined && jwk.k === undefined
  } catch {
    return false
  }
}

function importPublicKey(input: string | JsonWebKey): KeyObject {
  let key: KeyObject
  try {
    if (typeof input === 'string') {
      // createPublicKey would quietly derive the public half of a pasted private key.
      if (input.includes('PRIVATE KEY')) throw new Error('the PEM holds a private key; give only the public key')
      key = createPublicKey(input)
    } else {
      // A private JWK here means a secret was pasted into the config by mistake.
      if (input.d !== undefined) throw new Error('the JWK holds a private key; give only the public part')
      key = createPublicKey({ key: input, format: 'jwk' })
    }
  } catch (e) {
    throw new AppKeyError('.rs256PublicKey', `rs256PublicKey cannot be read: ${(e as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new AppKeyError('.rs256PublicKey', `rs256PublicKey must be an RSA key, not ${key.asymmetricKeyType ?? 'unknown'}`)
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) {
    throw new AppKeyError('.rs256PublicKey', `rs256PublicKey must be at least ${MIN_RSA_BITS} bits (is ${bits})`)
  }
  return key
}
