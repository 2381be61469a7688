/**
 * Secret values a config holds, for redaction by value: those from `${env:}`/`${file:}`
 * (config.secrets) and those written inline — passphrases, passwords (also in a URL's
 * userinfo), consumer secrets, static tokens, OTLP headers, field values. A field template with placeholders is rendered per request and its values are
 * not registered: no log line carries injected header, query, path or body values (the access
 * line has none, and error texts name fields, never their values).
 */
import { writtenForms, type FieldConfig, type GatewayConfig } from '../config/index.js'

const literal = (fields: readonly FieldConfig[] | undefined): string[] => (fields ?? []).map((f) => f.value).filter((v) => !v.includes('{{'))

/**
 * The credential in a URL's userinfo (`redis://:pw@host`), as written and decoded: its password,
 * or its user name when there is no password (a token given as the user).
 */
function urlPasswords(url: string | undefined): string[] {
  let raw: string
  try {
    if (url === undefined) return []
    const u = new URL(url)
    raw = u.password || u.username
  } catch {
    return []
  }
  if (raw === '') return []
  try {
    return [raw, decodeURIComponent(raw)]
  } catch {
    // A malformed escape: the value as written is still the secret.
    return [raw]
  }
}

/**
 * The query values of a collector URL (`…/v1/traces?api_key=…`: some hosted collectors take their
 * token there); the export-failure warning names the endpoint.
 */
function urlQueryValues(url: string | undefined): string[] {
  try {
    if (url === undefined) return []
    const u = new URL(url)
    // As written (the URL printed as configured) and decoded.
    const raw = u.search.slice(1).split('&').map((pair) => pair.slice(pair.indexOf('=') + 1))
    return [...raw, ...u.searchParams.values()]
  } catch {
    return []
  }
}

/** Every secret value of the config, unfiltered (the redactor drops short ones). */
export function configSecretValues(config: GatewayConfig): string[] {
  const values: (string | undefined)[] = [...config.secrets]
  for (const e of config.endpoints) {
    for (const t of [e.tls, ...Object.values(e.tenants ?? {})]) values.push(t.keyPassphrase, t.pkcs12Passphrase)
    values.push(...literal(e.fields), e.via?.password, ...urlPasswords(e.via?.url), ...urlPasswords(e.url))
  }
  for (const p of config.profiles ?? []) {
    values.push(p.consumerSecret, p.privateKeyPassphrase, p.token?.token, p.token?.tokenSecret, ...Object.values(p.additionalFields ?? {}), ...literal(p.fields))
    for (const u of [p.requestTokenUrl, p.accessTokenUrl, p.authorizeUrl]) values.push(...urlPasswords(u))
  }
  values.push(config.listen.tls?.keyPassphrase, config.admin.tls?.keyPassphrase, config.interception?.caKeyPassphrase, config.callers?.adminToken, config.admin.token)
  for (const k of config.store?.sealKeys ?? []) values.push(k.key)
  const redis = config.store?.redis
  values.push(...urlPasswords(config.store?.url), redis?.password, redis?.sentinel?.password, redis?.tls?.keyPassphrase)
  // OTLP headers carry the collector's credentials (`authorization: Bearer …`, API keys).
  values.push(...Object.values(config.tracing?.otlp?.headers ?? {}), ...urlPasswords(config.tracing?.otlp?.endpoint), ...urlQueryValues(config.tracing?.otlp?.endpoint))
  for (const a of config.callers?.apps ?? []) values.push(a.hs256Secret)
  for (const k of config.callers?.gatewayKeys ?? []) values.push(k.passphrase)
  // Each as a URL or an encoder writes it (a connection test's URL holding a `${file:}` value with a line break) and in
  // lower case too: a URL the gateway parsed shows its host lower-cased, so a value from `${env:}` in a host name left masks elsewhere.
  const forms = values.filter((v): v is string => typeof v === 'string' && v !== '').flatMap(writtenForms)
  return [...new Set(forms.flatMap((v) => (v.toLowerCase() === v ? [v] : [v, v.toLowerCase()])))]
}
