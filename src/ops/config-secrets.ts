/**
 * Secret values a config holds, for redaction by value: those from `${env:}`/`${file:}`
 * (config.secrets) and those written inline — passphrases, consumer secrets, static tokens,
 * field values. A field template with placeholders is rendered per request and its values are
 * not registered: no log line carries injected header, query, path or body values (the access
 * line has none, and error texts name fields, never their values).
 */
import type { FieldConfig, GatewayConfig } from '../config/index.js'

const literal = (fields: readonly FieldConfig[] | undefined): string[] => (fields ?? []).map((f) => f.value).filter((v) => !v.includes('{{'))

/** Every secret value of the config, unfiltered (the redactor drops short ones). */
export function configSecretValues(config: GatewayConfig): string[] {
  const values: (string | undefined)[] = [...config.secrets]
  for (const e of config.endpoints) {
    for (const t of [e.tls, ...Object.values(e.tenants ?? {})]) values.push(t.keyPassphrase, t.pkcs12Passphrase)
    values.push(...literal(e.fields))
  }
  for (const p of config.profiles ?? []) {
    values.push(p.consumerSecret, p.privateKeyPassphrase, p.token?.token, p.token?.tokenSecret, ...Object.values(p.additionalFields ?? {}), ...literal(p.fields))
  }
  values.push(config.listen.tls?.keyPassphrase, config.admin.tls?.keyPassphrase, config.interception?.caKeyPassphrase, config.callers?.adminToken, config.admin.token)
  for (const k of config.store?.sealKeys ?? []) values.push(k.key)
  for (const a of config.callers?.apps ?? []) values.push(a.hs256Secret)
  for (const k of config.callers?.gatewayKeys ?? []) values.push(k.passphrase)
  return values.filter((v): v is string => typeof v === 'string' && v !== '')
}
