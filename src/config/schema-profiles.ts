/**
 * The `profiles` section of the schema and the authorization fields that profiles and endpoints
 * share (part of schema.ts's single source, kept apart so the section reads as one piece).
 */

const field = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'key', 'value'],
  properties: {
    type: { type: 'string', enum: ['header', 'payload', 'query', 'path'], description: 'Where the field goes: a header (replacing the caller\'s), a key in a JSON object or form body (dotted path for nested JSON; in a form, first, before the caller\'s parameters), a query parameter (first, before the caller\'s: parsers that keep only the first 1,000 parameters still read it), or a `{{key}}` placeholder in the URL path (the endpoint URL\'s path or its `pathPrefix`: a path field none of the endpoints applying it has a placeholder for is a config error, as it would never be placed).' },
    key: { type: 'string', minLength: 1, description: 'Header name, body key (dotted path allowed for JSON), query parameter name, or path placeholder name.' },
    value: { type: 'string', description: 'A template: literal text with `{{tenant}}`, `{{user}}`, `{{fields.NAME}}` (profile additional fields) and `{{claims.NAME}}` (caller JWT/JWE claims). `{{tenant}}` only where every endpoint applying the field has tenancy (load refuses it otherwise). A header field\'s value must be visible ASCII with spaces and tabs only inside: a request whose value is not is a 400 naming the field, and literal text (or an `additionalFields` entry) that makes every value so is a config error here.' },
  },
} as const

export const fieldsSchema = { type: 'array', items: field, description: 'Authorization fields injected into the forwarded request before signing.' } as const

// Said of every profile URL's query as written: the rule the proxy applies to a signed query.
const URL_QUERY = 'In the query, a raw `[ ] { } | \\ ^` backtick, space, `"`, `<` or `>` is sent percent-encoded (`[` as `%5B`; the token calls are signed so); a non-UTF-8 escape (`%E9`) or a `%` not before two hex digits is refused at load (check, start, reload), as no OAuth 1.0a verifier reads it as written.'

// Said once for the three templated profile URLs.
const URL_TEMPLATE = `a template: \`{tenant}\`/\`{{tenant}}\` (also in the host), \`{{user}}\` and \`{{fields.NAME}}\` (additionalFields, then the user's userFields) in the path or query, each value percent-encoded. ${URL_QUERY}`

export const profileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'consumerKey'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9_-]{0,62})$', description: 'Profile name, named by endpoints and used in `/gateway/oauth1/<profile>/…`.' },
    provider: { type: 'string', description: 'Identity provider name (display only).' },
    consumerKey: { type: 'string', minLength: 1, description: 'OAuth 1.0a consumer key.' },
    consumerSecret: { type: 'string', description: 'Consumer secret (HMAC-*, PLAINTEXT). Use `${env:…}` or `${file:…}`.' },
    signatureMethod: { type: 'string', enum: ['HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512', 'RSA-SHA1', 'RSA-SHA256', 'PLAINTEXT'], default: 'HMAC-SHA1', description: 'Signature method (RFC 5849 §3.4).' },
    privateKey: { type: 'string', description: 'PEM RSA private key file for RSA-SHA1 / RSA-SHA256.' },
    privateKeyPassphrase: { type: 'string', description: 'Passphrase of an encrypted privateKey.' },
    requestTokenUrl: { type: 'string', pattern: '^https?://', description: `Temporary-credential (request token) URL; ${URL_TEMPLATE}` },
    accessTokenUrl: { type: 'string', pattern: '^https?://', description: `Token (access token) URL; ${URL_TEMPLATE}` },
    authorizeUrl: { type: 'string', pattern: '^https?://', description: `Resource-owner authorization URL the user opens in a browser; ${URL_TEMPLATE}` },
    callbackUrl: { type: 'string', pattern: '^https?://', description: 'The gateway\'s public callback URL (`…/gateway/oauth1/callback`; default: `listen.publicUrl` + that path, else derived from the request); may contain `{tenant}`, no other placeholder. Authorize links are built on this URL\'s origin: the link page\'s browser-binding cookie must reach the callback. ' + URL_QUERY },
    endpoint: { type: 'string', description: 'Endpoint whose client bundle (mTLS) calls the token URLs (default: the first endpoint naming this profile). A token URL on the origin (scheme, host, port) of another endpoint is called over that endpoint instead: its bundle, `resolve`, `serverName` and `pins`. One on an origin no endpoint has is dialled by its own host name (DNS, egress policy), which is also its SNI and the name verified against this endpoint\'s trust anchors (`roots`, `systemRoots`), without its `resolve`, `serverName` or `pins`: those name the endpoint\'s own origin.' },
    tokenUrlsOnEndpointServer: {
      type: 'boolean',
      default: false,
      description: 'The token URLs\' hosts are served by the `endpoint`\'s own server (one ingress under several names): every token URL is called over that endpoint, dialled at its `resolve` address with its `serverName` as SNI and its `pins`, as its own URL is. Before this key, that was what happened to any token URL; now it must be said.',
    },
    tokenUrlEndpoints: {
      type: 'array',
      items: { type: 'string' },
      uniqueItems: true,
      description: 'For a token URL whose origin several endpoints share (not the profile endpoint\'s own origin): the one of them it is called over, its bundle, `resolve`, `serverName` and `pins`. Without it the first in config order is used; `check` and a start warn of that, and refuse it (naming the token URL\'s key) when those endpoints present different client certificates, as which one the token server gets is then a guess. Each name must be an endpoint on the origin of one of the profile\'s token URLs, at most one per origin; not with `tokenUrlsOnEndpointServer`.',
    },
    userFields: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
      description: 'Fields each user supplies when authorizing (e.g. a PIN): collected at the authorize step, stored encrypted with the user\'s token, usable as `{{fields.NAME}}`.',
    },
    realm: { type: 'string', description: 'The `realm` parameter of the Authorization header.' },
    tenancy: { type: 'boolean', default: false, description: 'Requests must name a tenant; `{tenant}` in URLs is filled from it.' },
    version: { type: 'boolean', default: true, description: 'Send `oauth_version="1.0"`.' },
    bodyHash: { type: 'boolean', default: false, description: 'Add `oauth_body_hash` for non-form bodies (OAuth Request Body Hash extension).' },
    placement: { type: 'string', enum: ['header', 'query', 'body'], default: 'header', description: 'Where the OAuth parameters go. With `query` or `body` they go first, before the fields and the caller\'s parameters (the signature sorts parameters, so the order does not change it).' },
    legacyOAuth10: {
      type: 'boolean',
      default: false,
      description: 'The provider implements OAuth Core 1.0, not 1.0a (RFC 5849): the dance then sends its request-token request without `oauth_callback` (OAuth Core 1.0 has none there), takes a reply without `oauth_callback_confirmed=true` (refused otherwise, `oauth_provider_failed`), passes `oauth_callback` in the provider\'s authorize URL, and completes a callback without `oauth_verifier` (its access-token request signed with the request token alone). Such a dance is open to session fixation: nothing proves the user who approved at the provider is the one whose browser comes back, so an attacker can have a victim approve the attacker\'s request token. Only for a provider that cannot do 1.0a; `check` warns while it is on.',
    },
    token: {
      type: 'object',
      additionalProperties: false,
      description: 'Which token signs requests.',
      properties: {
        mode: { type: 'string', enum: ['none', 'static', 'per_user'], default: 'none', description: '`none`: two-legged (consumer only); `static`: the token below; `per_user`: each user\'s token from the three-legged dance.' },
        token: { type: 'string', description: 'Static token (mode `static`).' },
        tokenSecret: { type: 'string', description: 'Static token secret (mode `static`).' },
      },
    },
    additionalFields: {
      type: 'object',
      additionalProperties: { type: 'string', description: 'The value of the field named by the key (`{{fields.NAME}}` for the key NAME).' },
      description: 'Extra key/value pairs (e.g. a PIN), usable as `{{fields.NAME}}` in field and URL templates.',
    },
    fields: fieldsSchema,
  },
} as const
