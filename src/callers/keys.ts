import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { ConfigError, type ConfigProblem } from '../errors.js'
import type { CompileWhere } from './apps.js'

/** One gateway decryption key as written in the config; `kid` is published in the JWKS. */
export interface GatewayKeyConfig {
  kid: string
  /** RSA private key PEM (PKCS#1 or PKCS#8, optionally passphrase-encrypted). */
  privateKey: string
  passphrase?: string
}

/** A decryption key imported once at load. */
export interface GatewayKey {
  readonly kid: string
  readonly privateKey: KeyObject
  readonly publicKey: KeyObject
}

/** The gateway's JWE decryption keys by `kid`; several at once allow rotation. */
export type GatewayKeys = ReadonlyMap<string, GatewayKey>

const MIN_RSA_BITS = 2048

/** Imports every key; throws ConfigError listing all problems. */
export function compileGatewayKeys(
  configs: readonly GatewayKeyConfig[],
  where: CompileWhere = { file: 'config', key: 'gatewayKeys' },
): GatewayKeys {
  const keys = new Map<string, GatewayKey>()
  const problems: ConfigProblem[] = []
  // Tracked apart from the map so a duplicate of an entry that failed is still reported.
  const seen = new Set<string>()
  configs.forEach((config, i) => {
    const at = (field: string, msg: string): void => {
      problems.push({ file: where.file, line: 0, column: 0, key: `${where.key}[${i}]${field}`, msg })
    }
    if (config.kid === '') at('.kid', 'kid must not be empty')
    if (seen.has(config.kid)) at('.kid', `duplicate kid "${config.kid}"`)
    seen.add(config.kid)
    try {
      keys.set(config.kid, compileGatewayKey(config))
    } catch (e) {
      at('.privateKey', (e as Error).message)
    }
  })
  if (problems.length > 0) throw new ConfigError(problems)
  return keys
}

/** Imports one RSA decryption key (≥ 2048 bits, as jose requires for RSA-OAEP). */
export function compileGatewayKey(config: GatewayKeyConfig): GatewayKey {
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: config.privateKey, format: 'pem', passphrase: config.passphrase })
  } catch (e) {
    throw new Error(`key "${config.kid}" cannot be read: ${(e as Error).message}`)
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw new Error(`key "${config.kid}" must be an RSA key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`)
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0
  if (bits < MIN_RSA_BITS) throw new Error(`key "${config.kid}" must be at least ${MIN_RSA_BITS} bits (is ${bits})`)
  return Object.freeze({ kid: config.kid, privateKey, publicKey: createPublicKey(privateKey) })
}
