/**
 * OAuth 1.0a profiles and authorization fields, compiled at load: keys imported, field
 * templates parsed, so a request only renders and signs.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readConfigFile, parseTemplate, type FieldConfig, type FieldType, type ProfileConfig, type Template } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { createSigner, type Signer } from '../oauth1/index.js'
import { profileUrlProblems } from './profile-urls.js'

export interface CompiledField {
  readonly type: FieldType
  readonly key: string
  readonly template: Template
}

export interface Profile {
  readonly name: string
  readonly config: ProfileConfig
  readonly privateKey?: KeyObject
  readonly fields: readonly CompiledField[]
  /** The profile's OAuth 1.0a signer: consumer, method, realm and placement encoded once. */
  readonly signer: Signer
}

/** Parses field templates (already validated at load). */
export function compileFields(fields: readonly FieldConfig[]): CompiledField[] {
  return fields.map((f) => ({ type: f.type, key: f.type === 'header' ? f.key.toLowerCase() : f.key, template: parseTemplate(f.value) }))
}

/** Compiles every profile; problems (unreadable or non-RSA keys) are returned, not thrown. */
export function compileProfiles(configs: readonly ProfileConfig[], file = ''): { profiles: Map<string, Profile>; problems: ConfigProblem[] } {
  const profiles = new Map<string, Profile>()
  const problems: ConfigProblem[] = []
  for (const p of configs) {
    problems.push(...profileUrlProblems(p, file))
    let privateKey: KeyObject | undefined
    if (p.privateKey) {
      const problem = (msg: string): void => void problems.push({ file: p.privateKey as string, line: 0, column: 0, key: `profiles[${p.index}].privateKey`, msg: `profile "${p.name}": ${msg}` })
      try {
        privateKey = createPrivateKey({ key: readConfigFile(p.privateKey, 'utf8'), ...(p.privateKeyPassphrase !== undefined ? { passphrase: p.privateKeyPassphrase } : {}) })
        if (privateKey.asymmetricKeyType !== 'rsa') problem(`${p.signatureMethod} needs an RSA key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`)
      } catch (e) {
        problem(`cannot load the RSA private key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
      }
    }
    const signer = createSigner({
      consumerKey: p.consumerKey,
      consumerSecret: p.consumerSecret,
      signatureMethod: p.signatureMethod,
      ...(privateKey ? { privateKey } : {}),
      ...(p.realm !== undefined ? { realm: p.realm } : {}),
      includeVersion: p.version,
      bodyHash: p.bodyHash,
      placement: p.placement,
    })
    profiles.set(p.name, { name: p.name, config: p, ...(privateKey ? { privateKey } : {}), fields: compileFields(p.fields), signer })
  }
  return { profiles, problems }
}
