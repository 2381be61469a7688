/**
 * The `callers` section of the schema (part of schema.ts's single source, kept apart so the
 * section reads as one piece). Normalisation reads its defaults from here.
 */
import { boundedDuration, boundedInteger, storeLifetime } from './schema-operations.js'

const callerApp = {
  type: 'object',
  additionalProperties: false,
  required: ['clientId', 'audience'],
  properties: {
    clientId: { type: 'string', minLength: 1, description: 'Client id; assertions must carry it as `iss` (or its alias, see claimAliasPrefix).' },
    userSpace: {
      type: 'string',
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9._~-]+$',
      description: 'Whose users this app\'s `sub` names (default: the app\'s clientId). A user\'s stored OAuth tokens belong to the user space of the app that asserted the user: by default each app\'s users are its own, and another app asserting the same `sub` neither uses nor replaces nor merges their tokens. Apps with the same userSpace share their users and those users\' tokens (give it only to apps whose `sub`s name the same people).',
    },
    hs256Secret: { type: 'string', description: 'HS256 shared secret (≥ 32 bytes), this app\'s own: two apps with one key are refused (either could sign as the other), and so is a public key or certificate (no secret). Use `${env:…}`/`${file:…}`.' },
    rs256PublicKey: { type: 'string', description: 'RS256 public key, PEM (usually `${file:app.pub.pem}`), this app\'s own: two apps with one key, in any form, are refused (either could sign as the other).' },
    audience: { type: 'string', minLength: 1, description: 'The `aud` every assertion must name. Changing it (by a reload or a restart) ends the app\'s bearers whose assertion named the old audience (401/407 `app_audience_changed`), as changing its key does.' },
    endpoints: { type: 'array', items: { type: 'string' }, default: [], description: 'Endpoints this app may use (`*`: all).' },
    allowRsa15Jwe: { type: 'boolean', default: false, description: 'Accept RSA1_5 JWE from this app (padding-oracle risk; off by default). Turning it off (by a reload or a restart) ends the app\'s bearers obtained with an RSA1_5 JWE (401/407 `app_rsa15_disallowed`), and those of JWE assertions exchanged by versions before bearers recorded the algorithm.' },
    tenants: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
      description: 'The only tenants this app\'s calls may name (lower-case DNS labels) on endpoints with tenancy; another tenant is refused with 403 before any upstream is asked. Absent: any tenant. Needs at least one endpoint of the app with tenancy.',
    },
    jwtMaxLifetime: { ...boundedDuration('87600h', 'ten years: a longer maximum is none'), description: 'This app\'s own `callers.jwtMaxLifetime` (wins over it): the longest `exp` − `iat` of its JWTs without `jti`.' },
    tenantClaim: {
      type: 'string',
      minLength: 1,
      description: 'A claim of the caller\'s JWT/JWE (e.g. `org`) that must name each call\'s tenant: a string, or an array of strings (compared case-insensitively); a missing claim is refused. With `tenants`, both must allow the tenant. Needs hs256Secret or rs256PublicKey (a client certificate carries no claims) and an endpoint with tenancy.',
    },
    clientCertificate: {
      type: 'object',
      additionalProperties: false,
      description: 'Identify this app by its inbound TLS client certificate (listen.tls.clientCa). Certificate apps are tried in order and the first match wins: `{}` matches every certificate, and an app an earlier one always wins over (`{}` before it, or the same subject and SAN or fewer) is a config error at its line.',
      properties: {
        subject: { type: 'string', description: 'Exact subject CN.' },
        san: { type: 'string', description: 'A DNS or URI subjectAltName the certificate must carry.' },
      },
    },
  },
} as const

export const callersSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Caller security: only registered apps may use the gateway.',
  properties: {
    required: { type: 'boolean', default: true, description: 'Refuse calls without caller credentials (false: open, for a trusted network only).' },
    clockSkew: { ...boundedDuration('1h', 'a caller token is accepted this long past its `exp` (and before its `nbf`); a tolerance of hours accepts a token its issuer has long since let expire'), default: '30s', description: 'Allowed clock skew for iat/exp/nbf. A seen `jti` is kept until `exp` plus an hour (this maximum), so raising it on reload, or replicas that disagree, open no replay window.' },
    jwtMaxLifetime: { ...boundedDuration('87600h', 'ten years: a longer maximum is none'), description: 'Longest `exp` − `iat` of a caller JWT without `jti` (used directly as the bearer, or exchanged at `POST /gateway/token`; neither is refused as a replay, so it is a credential for as long as its issuer wrote): a longer one is refused (401/407 `jwt_lifetime_too_long`). Default: none (only a `jti` assertion is held to 1 hour). `callers.apps[].jwtMaxLifetime` overrides it per app.' },
    bearerTtl: { ...storeLifetime('the store keeps a bearer\'s record this long'), default: '15m', description: 'Lifetime of bearer tokens from POST /gateway/token (an anonymous user\'s: at most `anonymousTtl`); at least 1 s. Shortening it (or `anonymousTtl`) ends the bearers already older than the new lifetime (401/407 `bearer_ttl_shortened`); lengthening it does not extend issued ones.' },
    anonymousTtl: { ...storeLifetime('the store keeps an anonymous user\'s entries this long'), default: '30m', description: 'How long an anonymous user\'s entries (OAuth tokens, dance state, links, bearers) live in the store, counted from when each was made; they move to a known user only by identityToMerge. Shortening it (reload or restart) ends the entries already older than the new value (not read, not merged, removed from the store) and brings the others\' store expiry forward; lengthening it does not extend stored ones. At least 1 s.' },
    persistDecryptedClaims: { type: 'boolean', default: false, description: 'No effect (kept so existing files load): decrypted JWE claims are always sealed in the store for the bearer\'s lifetime, so every worker and replica resolves the bearer.' },
    claimAliasPrefix: {
      type: 'string',
      pattern: '^[A-Za-z0-9_-]{0,32}$',
      default: 'kore_',
      description: 'Assertions may carry `<prefix>jti`, `<prefix>iss` and `<prefix>sub`; when present they win over `jti`, `iss` and `sub` (replay and one-hour rule, app, user). Empty turns aliases off. Changing it ends the bearers whose `jti`, `iss` or `sub` the new prefix would read otherwise (401/407 `claim_alias_prefix_changed`); others keep working.',
    },
    apps: { type: 'array', items: callerApp, description: 'Registered caller apps.' },
    gatewayKeys: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['kid', 'privateKey'],
        properties: {
          kid: { type: 'string', minLength: 1, description: 'Key id, published at /gateway/jwks.json.' },
          privateKey: { type: 'string', description: 'RSA private key PEM (`${file:…}`).' },
          passphrase: { type: 'string', description: 'Passphrase of an encrypted key.' },
        },
      },
      description: 'The gateway\'s JWE decryption keys (several for rotation).',
    },
    failedExchangesPerMinute: {
      ...boundedInteger(0, 1_000_000, 'a million a minute is no throttle at all: turn it off with 0'),
      default: 60,
      description: 'Failed `POST /gateway/token` exchanges allowed per source address (IPv6: per /64) within a minute (a sliding count, shared through the store by every worker and replica): past it, that address gets 429 `token_exchange_throttled` with `Retry-After` before its assertion is read or any key used, valid assertion or not, until the count has faded; other addresses go on. A refused assertion (401) or a malformed request (4xx) counts once it has settled, a bearer issued or a store failure (5xx) does not, nor does an exchange still in flight: valid exchanges at once are all served (past this many at once, the next wait for one to settle). Callers behind one shared address (an ingress, a NAT) share its count: raise it there. `0` turns it off.',
    },
    adminToken: { type: 'string', minLength: 16, description: 'Bearer token for operator-only gateway API routes (token revocation, profile tests, authorize links); at least 16 characters. Wrong tokens are throttled per source address (IPv6: per /64), 20 a minute, counted in the store so every worker and replica shares the count (right ones at once are never refused); that slows guessing but does not stop it from many addresses, so still use a long random value (`${env:…}` or `${file:…}`). Separate from caller apps.' },
  },
} as const
