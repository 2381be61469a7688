/**
 * "Test authorization": the request-token step with the consumer key and secret over
 * the endpoint's mTLS, run by `mtls-gateway test-auth` and POST /gateway/oauth1/<p>/test.
 * A failure shows what the provider answered (status, headers, body) so an operator can
 * fix the profile, with every secret the gateway knows taken out.
 */
import { GatewayError } from '../errors.js'
import type { Gateway, Profile } from '../gateway/index.js'
import { callTokenUrl, checkTenant } from './provider.js'
import { abridgeLongTokens, parseTokenReply, UnconfirmedCallbackError, type ProviderReply } from './token-reply.js'
import { redactSecrets } from './redact-secrets.js'
import { callbackUrlFor } from './urls.js'

/** The outcome of one profile test. */
export interface ProfileTestResult {
  ok: boolean
  profile: string
  tenant?: string
  /** One sentence: what worked, or what failed. */
  message: string
  /** The provider's answer (failures only), secrets redacted. */
  response?: { method: string; url: string; endpoint: string; status: number; headers: Record<string, string>; body: string }
}

/**
 * For the operator only (test-auth, the console's Test, the admin API's test): the way out for a
 * provider that cannot do 1.0a. A user's failure page never suggests turning a protection off.
 */
const LEGACY_PROVIDER_HINT = 'If this provider cannot do OAuth 1.0a, the profile setting `legacyOAuth10: true` accepts it, and leaves that profile\'s dance open to session fixation (README: "A legacy OAuth 1.0 provider")'

const REDACTED = '[redacted]'
const SECRET_HEADERS = new Set(['set-cookie', 'authorization', 'proxy-authorization'])
// In any case and with `_`, `-` or nothing between the words (`OAUTH_TOKEN_SECRET`, `oauthTokenSecret`,
// `token_secret`, `tokenSecret`): providers' own spellings of the same values.
const NAMES = '(?:(?:oauth[_-]?)?token[_-]?secret|oauth[_-]?signature|oauth[_-]?verifier)'
/**
 * The value of a secret parameter in each form a provider answers with, the name kept:
 * XML element (CDATA too), JSON string or bare value, form/query/header/attribute
 * `name=value` (quoted or not), `name: value` (a header-like or YAML line), and a form
 * percent-encoded once or more (`name%3Dvalue`).
 */
const SECRET_PARAMS = [
  new RegExp(`(<${NAMES}(?:\\s[^>]*)?>)(?:<!\\[CDATA\\[[\\s\\S]*?\\]\\]>|[^<])*`, 'gi'),
  new RegExp(`(${NAMES}"\\s*:\\s*")(?:\\\\[\\s\\S]|[^"\\\\])*`, 'gi'),
  new RegExp(`(${NAMES}"\\s*:\\s*)[^"\\s,}\\]][^\\s,}\\]]*`, 'gi'),
  new RegExp(`(${NAMES}\\s*[=:]\\s*")[^"]*`, 'gi'),
  new RegExp(`(${NAMES}\\s*[=:]\\s*')[^']*`, 'gi'),
  new RegExp(`(${NAMES}\\s*[=:][ \\t]*)[^&\\s"',;<>\\\\]+`, 'gi'),
  new RegExp(`(${NAMES}%(?:25)*3[dD])(?:(?!%(?:25)*26)[^&\\s"',;<>])*`, 'gi'),
]

/**
 * Removes the profile's secrets, `also` (the config's `${env:}`/`${file:}` values: a provider API
 * key in a token URL's query, echoed back), and any token secret, signature or verifier from provider text.
 */
export function redactProviderText(profile: Profile, text: string, also: readonly string[] = []): string {
  const c = profile.config
  const secrets = [c.consumerSecret, c.token.tokenSecret, c.privateKeyPassphrase, ...Object.values(c.additionalFields), ...also].filter((s): s is string => s !== undefined)
  // The parameters are looked for in every decoding of the text, as the known secrets are.
  return redactSecrets(text, secrets, REDACTED, SECRET_PARAMS)
}

function failure(profile: Profile, also: readonly string[], tenant: string | undefined, message: string, reply?: ProviderReply): ProfileTestResult {
  const redact = (text: string): string => redactProviderText(profile, text, also)
  const headers = reply
    ? Object.fromEntries(Object.entries(reply.headers).map(([k, v]) => [k, SECRET_HEADERS.has(k) ? REDACTED : redact(v)]))
    : undefined
  return {
    ok: false,
    profile: profile.name,
    ...(tenant !== undefined ? { tenant } : {}),
    message: redact(message),
    ...(reply && headers
      ? { response: { method: reply.method, url: redact(reply.url), endpoint: reply.endpoint, status: reply.status, headers, body: abridgeLongTokens(redact(reply.body)) } }
      : {}),
  }
}

/** Runs the request-token step for a profile; never throws for a provider or TLS failure. */
export async function testProfile(gateway: Gateway, name: string, tenantArg: string | undefined, origin?: string): Promise<ProfileTestResult> {
  const profile = gateway.profiles.get(name)
  if (!profile) throw new GatewayError('not_found', `no profile named "${name}" (profiles: ${[...gateway.profiles.keys()].join(', ') || 'none'})`)
  let tenant: string | undefined
  let reply: ProviderReply | undefined
  try {
    tenant = checkTenant(gateway, profile, tenantArg)
    const callback = callbackUrlFor(gateway, profile, tenant, origin) ?? 'oob'
    reply = await callTokenUrl(gateway, profile, 'requestTokenUrl', tenant !== undefined ? { tenant, callback } : { callback })
    parseTokenReply(profile, 'request-token', reply)
    const message = `profile "${profile.name}" obtained a request token from ${reply.url} (HTTP ${reply.status}) over endpoint "${reply.endpoint}"'s mTLS`
    return { ok: true, profile: profile.name, ...(tenant !== undefined ? { tenant } : {}), message }
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err
    const message = err instanceof UnconfirmedCallbackError ? `${err.message}. ${LEGACY_PROVIDER_HINT}` : err.message
    return failure(profile, gateway.config.secrets, tenant, message, reply)
  }
}

/**
 * C0 controls but tab, DEL, C1 controls and bidirectional overrides, which a terminal acts on: a
 * provider's reply printed raw could clear the operator's screen, rewrite a line ("Auth Test
 * Succeeded"), set the clipboard (OSC 52) or reorder what is read.
 */
const TERMINAL_CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/** `text` with every terminal control shown as an escape (`\x1b`, `\u202e`); `\n` is shown too, where a line cannot hold it. */
function printable(text: string): string {
  return text.replace(TERMINAL_CONTROLS, (c) => {
    const code = c.charCodeAt(0)
    return code === 0x0d ? '\\r' : code === 0x0a ? '\\n' : code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`
  })
}

/** A message's lines, each printable. */
const printableLines = (text: string): string => text.split('\n').map(printable).join('\n')

function indent(text: string): string {
  return text === '' ? '  (empty)' : text.split(/\r?\n/).map((l) => `  ${printable(l)}`).join('\n')
}

/** The human-readable report: "Auth Test Succeeded", or "Auth Test Failed" with Headers and Response. */
export function formatProfileTest(r: ProfileTestResult): string {
  if (r.ok) return `Auth Test Succeeded\n${printableLines(r.message)}\n`
  const lines = ['Auth Test Failed', printableLines(r.message)]
  if (r.response) {
    const { method, url, status, headers, body } = r.response
    lines.push('', `${method} ${printable(url)} → HTTP ${status}`, '', 'Headers', indent(Object.entries(headers).map(([k, v]) => `${printable(k)}: ${printable(v)}`).join('\n')), '', 'Response', indent(body))
  } else {
    lines.push('', 'Headers', '  (no response: the request did not reach the provider)', '', 'Response', '  (none)')
  }
  return lines.join('\n') + '\n'
}
