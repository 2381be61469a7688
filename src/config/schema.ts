/**
 * The JSON Schema of gateway.yaml: the single source. `config/gateway.schema.json` and
 * `docs/config-reference.md` are generated from it (`npm run schema`) and a test checks
 * they are current. Every object closes with additionalProperties:false, so unknown keys
 * are errors.
 */
import { fieldsSchema, profileSchema } from './schema-profiles.js'
import { tracingSchema } from './schema-tracing.js'
import { callersSchema } from './schema-callers.js'
import { endpointTls, tenantSchema } from './schema-endpoint-tls.js'
import { adminHostsSchemas } from './admin-hosts.js'
import { HEADER_NAME } from './tenant-header.js'
import { boundedDuration, boundedInteger, connectionCap, drainSchema, duration, loggingSchema, MAX_BUFFERED_BODY, MAX_BUFFERED_BODY_WHY, MAX_BUFFERED_TOTAL, MAX_BUFFERED_TOTAL_WHY, NOT_CA, size, timerDuration } from './schema-operations.js'
import { WAYS_IN } from './types-listeners.js'


/** Client-side timeouts every listener enforces (defaults compared with nginx and Envoy in docs/limits.md). */
const clientTimeouts = {
  headers: { ...timerDuration(), default: '60s', description: 'A request\'s headers must arrive in full within this time, counted from the connection (or from the first byte of a later keep-alive request); else 408 and the connection closes. `0` turns it off.' },
  bodyIdle: { ...timerDuration(), default: '60s', description: 'Longest pause between two pieces of a request body while the gateway reads it; else 408 (or the stream is cut) and the connection closes. `0` turns it off.' },
  bufferedBody: { ...timerDuration(), default: '60s', description: 'A body the gateway reads whole (`/gateway/…` API bodies; bodies a payload field, form-placed OAuth parameters or a body hash need) must arrive within this time; else 408 and the connection closes. `0` turns it off.' },
  keepAlive: { ...timerDuration(), default: '75s', description: 'An idle keep-alive connection (no request in progress) is closed after this time. `0` turns it off.' },
} as const

/** A cap on concurrent client connections; beyond it new connections are closed on accept. */
function connectionLimits(max: number) {
  return {
    type: 'object',
    additionalProperties: false,
    description: 'Concurrent client connections. A connection over a cap is closed as soon as it is accepted, before anything is read.',
    properties: {
      max: { ...connectionCap(1), default: max, description: 'Most connections open at once on this listener (per process with `--workers`).' },
      perAddress: { ...connectionCap(0), default: 0, description: 'Most connections open at once from one source address; `0`: no per-address cap (callers behind one NAT share an address).' },
    },
  } as const
}

/** A listener's own certificate and, optionally, the CA its clients' certificates must chain to. */
function serverTls<P extends object = object>(description: string, client: string, clients: string, extra: P = {} as P) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['cert', 'key'],
    description,
    properties: {
      cert: { type: 'string', description: 'PEM certificate (chain appended).' },
      key: { type: 'string', description: 'PEM private key.' },
      keyPassphrase: { type: 'string', description: 'Passphrase of an encrypted `key`. Reloads with the key (a key renewed under a new passphrase: give it as a `${file:…}` from the same Secret); one that does not decrypt the key is a config error at this key, and a reload keeps the old certificate.' },
      clientCa: { type: 'string', description: `PEM CA file for ${client} client certificates: a file with no certificate in it is a config error (it would trust none).${NOT_CA}` },
      requireClientCert: { type: 'boolean', default: false, description: `Refuse ${clients} without a certificate from clientCa at the handshake; after a reload that replaces clientCa, also every request on a connection opened before it whose certificate the new clientCa does not verify (401/407 caller_certificate_required, Connection: close; idle ones are closed at the reload). Turning it on or off needs a restart.` },
      ...extra,
    },
  } as const
}

/** A TLS handshake bound, for listeners that may serve TLS. */
const tlsHandshake = (what: string) => ({ ...timerDuration(), default: '10s', description: `A TLS handshake with ${what} must finish within this time; else the connection closes. \`0\` turns it off.` }) as const


const endpoint = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'url', 'tls'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9_-]{0,62})$', description: 'Endpoint name, used in `/proxy/<name>/` and metrics.' },
    url: { type: 'string', pattern: '^https://', description: 'Base URL of the backend (https). May contain `{tenant}`, and `{{key}}` placeholders for path fields. No query, fragment, or user name and password (the gateway would send none of them: give credentials as a header field).' },
    hosts: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Extra `host[:port]` names that forward-proxy requests and CONNECT may use for this endpoint (the URL host always matches; letter case and one trailing dot aside; an IPv6 literal in brackets is matched by address, whatever its spelling).',
    },
    pathPrefix: { type: 'string', pattern: '^/', description: 'Forward-proxy matches only paths under this prefix (default: any path). Among endpoints serving one host and port, the longest prefix holding the path wins; an endpoint without one takes only what no prefix holds (config order breaks ties). Compared with the path in RFC 3986 normal spelling (`/%6Fnly/x` is under `/only`; `%2F` is never `/`), otherwise as written, so write it as a URL carries a path (`^`, `{`, `}` outside a `{{key}}` placeholder, spaces and non-ASCII percent-encoded; no `\\`, `.` or `..` segments): one a URL parser would write otherwise is a config error.' },
    resolve: {
      type: 'string',
      description: 'Dial this IP address instead of resolving the host (like `curl --resolve`); SNI and verification still use the name. Like curl\'s, it names one origin, the URL\'s host and port: a profile\'s token URL on another host is dialled by its own name (`profiles[].tokenUrlsOnEndpointServer` aside).',
    },
    allowPrivate: {
      type: 'boolean',
      default: false,
      description: 'Allow dialling loopback, private, link-local and metadata addresses (tests, on-prem backends).',
    },
    tls: endpointTls,
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        connect: { ...timerDuration(), default: '5s', description: 'TCP + TLS handshake limit (through a `via` connector, its whole CONNECT answer too, however slowly it comes); exceeded → 504 and the connection is closed. `0` turns it off.' },
        response: { ...timerDuration(), default: '30s', description: 'Time to the upstream response headers; exceeded → 504. Interim `1xx` answers (`102 Processing`, `103 Early Hints`) do not extend it past this long after the first of them, or after the end of the request body when that is later (a slow upload is time the caller takes, not the upstream). A call to an OAuth 1.0a profile\'s token URL must have its whole reply, body included, within this time. `0` turns it off.' },
        idle: { ...timerDuration(), default: '30s', description: 'Gap allowed between body chunks; exceeded → 504 or an aborted stream. `0` turns it off.' },
        keepAlive: { ...timerDuration(), default: '60s', description: 'How long an idle pooled upstream connection is kept; at least 1ms.' },
      },
    },
    connections: { ...boundedInteger(1, 65535, 'connections to one origin each take a local port of this host, and there are 65535'), default: 128, description: 'Maximum upstream connections in this endpoint\'s pool (per origin and process); calls beyond them wait for a free one (`mtls_gateway_upstream_requests_waiting`).' },
    originPools: { ...boundedInteger(1, 65535, 'each pool holds at least one connection, which takes a local port of this host, and there are 65535'), default: 256, description: 'Most upstream origins this endpoint keeps a connection pool (and kept-alive connections) for at once, per process: one per tenant when `{tenant}` is in the URL\'s host, and any caller may name a tenant unless `callers.apps[].tenants` limits it. A new origin past it closes the least recently used idle pool (`mtls_gateway_upstream_pools_evicted_total`); while every pool is busy the new one is still admitted, and the cap holds again as they finish.' },
    via: {
      type: 'object', additionalProperties: false, required: ['url'],
      description: 'Reach this endpoint through an upstream HTTP proxy (on-premises connector) with CONNECT; mTLS runs end to end inside the tunnel.',
      properties: {
        url: { type: 'string', pattern: '^http://', description: 'Proxy URL, `http://host:port`: a user name and password go in `username` and `password`; with them, or with a path, query or fragment, it is a config error (the gateway would drop them).' },
        username: { type: 'string', description: 'Basic proxy credentials (user).' },
        password: { type: 'string', description: 'Basic proxy credentials (password; use `${env:…}`). Needs `username`: a password alone is a config error (it would never be sent).' },
      },
    },
    profile: { type: 'string', description: 'Name of the OAuth 1.0a profile that signs this endpoint\'s requests.' },
    fields: { ...fieldsSchema, description: 'Authorization fields for this endpoint (applied before the profile\'s fields).' },
    tenantHeader: { type: 'string', $comment: 'header-name', pattern: HEADER_NAME.source, default: 'X-Gateway-Tenant', description: 'Request header naming the tenant (route mode may also use `/proxy/<endpoint>@<tenant>/…`); a header name of its own: not Host, Content-Length, Transfer-Encoding, Content-Type, Content-Encoding, a hop-by-hop header, Authorization, Proxy-Authorization, Cookie or X-Gateway-User. Sent more than once, on any endpoint, it is a 400 `header_repeated` naming it in canonical case (each word capitalized: `X-Gateway-Tenant`).' },
    tenants: {
      type: 'object',
      propertyNames: { pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' },
      additionalProperties: tenantSchema,
      description: 'Per-tenant client bundles (a partner issued each tenant its own certificate); other tenants use the endpoint\'s `tls`. Needs tenancy (`{tenant}` in the URL, or `tenancy: true` on its profile or on a profile whose `endpoint` it is): without it no request names a tenant, and a config with `tenants` is refused.',
    },
  },
} as const

const interception = {
  type: 'object',
  additionalProperties: false,
  required: ['caCert', 'caKey'],
  description: 'CONNECT with TLS interception (HTTPS_PROXY): leaves for configured hosts are minted by this CA, which callers trust.',
  properties: {
    caCert: { type: 'string', description: 'Interception CA certificate (PEM; `mtls-gateway pki interception-ca` makes one).' },
    caKey: { type: 'string', description: 'Interception CA private key (PEM).' },
    caKeyPassphrase: { type: 'string', description: 'Passphrase of an encrypted CA key.' },
    leafValidity: { ...boundedDuration('876000h', 'a minted leaf\'s notAfter is written into it, and a certificate holds dates before the year 10000 only'), default: '24h', description: 'Validity of minted leaf certificates; at least 1m (a leaf is valid from a minute back, for callers\' clocks behind, and must be as far ahead).' },
    cacheSize: { ...boundedInteger(1, 100_000, 'a kept leaf holds its TLS context (about 32 KiB), so more would take gigabytes of memory'), default: 1000, description: 'Minted leaves kept (LRU), so only the first connection for a host pays.' },
    passThrough: {
      type: 'array',
      description: 'Hosts tunnelled untouched (no interception, no mTLS, no signing) — bytes only.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['host'],
        properties: {
          host: { type: 'string', minLength: 1, description: 'Host name as the caller sends it in CONNECT (letter case and one trailing dot aside; dialled as written), or an IPv6 address (brackets optional), matched by address whatever its spelling.' },
          port: { type: 'integer', minimum: 1, maximum: 65535, default: 443, description: 'Port.' },
          allowPrivate: { type: 'boolean', default: false, description: 'Allow private/loopback destinations for this host.' },
          connectTimeout: {
            ...timerDuration(),
            default: '5s',
            description: 'TCP connect limit for this host, like `endpoints[].timeouts.connect`: a destination that does not answer in time gets the caller a 504 on its CONNECT (before any `200`), and the dial is abandoned. `0` turns it off (the operating system then gives up after about two minutes of retries).',
          },
        },
      },
    },
  },
} as const

const hostPort = { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[^\\s:\\[\\]]+):[0-9]{1,5}$', description: '`host:port` (`[v6]:port` for IPv6).' } as const

const redisStore = {
  type: 'object',
  additionalProperties: false,
  description: 'Redis connection details beyond `url`: TLS, credentials, Sentinel or Cluster, and how many replicas must confirm a write. See docs/store.md.',
  properties: {
    username: { type: 'string', description: 'ACL user (Redis ≥ 6). With a user or password in `store.url` too, it must be the URL\'s user (the Redis client uses the URL\'s and ignores this): another is a config error, the same one a warning.' },
    password: { type: 'string', description: 'Password (`${env:…}` or `${file:…}`); also used for Cluster nodes and the Sentinel-found primary. With a user or password in `store.url` too, it must be the URL\'s password (the Redis client uses the URL\'s and ignores this): another is a config error, the same one a warning (a rotation must change both). A new one (a rotation) applies on reload to the connections opened after it, except with a Cluster (a restart).' },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: 'TLS to Redis (and to the Sentinels). With `url`, the URL must be `rediss://`. Renewed contents of its files (and a new `keyPassphrase`) apply on reload to the connections opened after it; naming other files, another `serverName`, or removing it needs a restart once the store is open.',
      properties: {
        ca: { type: 'string', description: 'PEM file of the CA(s) that sign the Redis server certificate (default: the system roots).' + NOT_CA },
        cert: { type: 'string', description: 'PEM client certificate, when Redis requires one (`tls-auth-clients yes`).' },
        key: { type: 'string', description: 'PEM private key of `cert`; one that does not match it, or that `keyPassphrase` does not decrypt, is a config error.' },
        keyPassphrase: { type: 'string', description: 'Passphrase of an encrypted `key`. Reloads with the key (a key renewed under a new passphrase: give it as a `${file:…}` from the same Secret).' },
        serverName: { type: 'string', minLength: 1, description: 'Name the server certificate must carry (default: the host dialled); needed when Sentinel or Cluster announce IP addresses.' },
      },
    },
    sentinel: {
      type: 'object',
      additionalProperties: false,
      required: ['addresses', 'primaryName'],
      description: 'Find the primary through Redis Sentinel and follow its failovers.',
      properties: {
        addresses: { type: 'array', minItems: 1, items: hostPort, description: 'Sentinel addresses (`host:port`, usually port 26379).' },
        primaryName: { type: 'string', minLength: 1, description: 'The monitored primary\'s name (`sentinel monitor <name> …`).' },
        username: { type: 'string', description: 'ACL user on the Sentinels, when they require one.' },
        password: { type: 'string', description: 'Password of the Sentinels (`requirepass` in sentinel.conf, or the ACL user\'s), when set: for the lookups of the primary and for the failover watch\'s `+switch-master` subscriptions at every Sentinel (configured and discovered). A new one applies on reload to the Sentinel connections opened after it, and refused subscriptions are made again with it.' },
        db: { ...boundedInteger(0, 2_147_483_646, 'Redis numbers its databases below its `databases` setting, itself at most 2147483647'), default: 0, description: 'Database number.' },
      },
    },
    cluster: {
      type: 'object',
      additionalProperties: false,
      required: ['nodes'],
      description: 'A Redis Cluster: seed nodes; the rest are discovered. Keys carry hash tags (docs/store.md).',
      properties: {
        nodes: { type: 'array', minItems: 1, items: hostPort, description: 'Some cluster nodes (`host:port`).' },
      },
    },
    replicasToAcknowledge: { ...boundedInteger(0, 100, 'Redis WAIT counts the replicas of one primary, and a count no deployment has makes every write wait out acknowledgeTimeout and fail with 503'), description: 'Replicas that must confirm each write (Redis `WAIT`) before the gateway acknowledges it. Default 1 with `sentinel`, 0 otherwise.' },
    acknowledgeTimeout: { ...timerDuration('298h'), default: '1s', description: 'Longest wait for those confirmations (shorter than `commandTimeout`); a write not confirmed in time fails with 503 `store_unavailable`. A store call waits `commandTimeout` + this on one timer, so each has half a timer\'s maximum.' },
    commandTimeout: { ...timerDuration('298h'), default: '3s', description: 'Longest wait for one Redis command; past it the request fails with 503 `store_unavailable`.' },
    connectTimeout: { ...timerDuration(), default: '2s', description: 'Longest wait for a TCP/TLS connection to Redis or a Sentinel, and (with `cluster`) for each refresh of the slot map; `0`: no limit, refused with `cluster`.' },
    gateReadiness: {
      type: 'boolean',
      default: false,
      description: '`true`: `/readyz` fails while this process cannot reach Redis (or the replicas writes must reach). Default `false`: Redis is shared by every replica, so its outage would take every pod out of the Service at once, calls that need no store included; instead `/readyz` stays 200 and names the problem under `notes`, store-needing requests get 503 `store_unavailable`, and `mtls_gateway_store_up` (the `MtlsGatewayStoreUnreachable` alert) reports it. Reloads. A SQLite store, local to the pod, always gates readiness.',
    },
  },
} as const

const store = {
  type: 'object',
  additionalProperties: false,
  description: 'Where tokens and the jti replay cache live. SQLite (default) for one instance; Redis for several replicas. The store opens with the first config that has caller apps or a per_user profile (at start or on reload); from then on `kind`, `file`, `url`, `keyPrefix` and every key under `redis` except `gateReadiness`, `tls.keyPassphrase` and the passwords (docs/store.md) are restart-only (a reload changing one is refused, naming it; renewed contents of `redis.tls` files do reload), while before that a reload may change them; `sealKeys` and `activeKey` reload.',
  properties: {
    kind: { type: 'string', enum: ['sqlite', 'redis'], default: 'sqlite', description: 'Store backend.' },
    file: { type: 'string', default: 'data/gateway.db', description: 'SQLite file (created on first start; relative to the config file). A path `serve` cannot open (its folder missing and not creatable, or not writable; a folder; a file that is not a SQLite database; a SQLite database that is not the gateway\'s store: another program\'s tables or `application_id`, a store schema a newer gateway wrote, a `store_entries` table of other columns) is a config error, refused before anything is written to it, when the store opens, and in `check`. Unset: `data/gateway.db` beside the config file, or `$MTLS_GATEWAY_STATE_DIR/gateway.db` when that variable is set (the container image sets it to its state volume).' },
    url: { type: 'string', pattern: '^rediss?://', description: 'Redis URL of one server (kind `redis`; or give `redis.sentinel` / `redis.cluster`): `redis://host:port/db`, the path a database number or nothing; `rediss://` for TLS; put a password in via `${env:…}`. The only query parameter taken is `family` (`0`, `4` or `6`), once; any other, and `family` given twice (the Redis client would keep the last), is a config error (the Redis client would take it as an option ahead of the gateway\'s own: use the `store.redis` and `store` settings). A user or password in it and a different `redis.username` / `redis.password` is a config error at the latter (the client would use the URL\'s). Judged with `kind: sqlite` too, where it is unused.' },
    keyPrefix: { type: 'string', default: 'mtls-gateway:', description: 'Prefix of every Redis key (no `{` or `}` with a Cluster).' },
    redis: redisStore,
    sealKeys: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'key'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Key id stored with every record.' },
          key: { type: 'string', description: '32 random bytes, base64 or hex, from `${env:…}` or `${file:…}`.' },
        },
      },
      description: 'AES-256-GCM keys sealing secrets at rest; every key listed opens, `activeKey` seals. To rotate: add the new key everywhere, then make it `activeKey` (reads seal what they find under another key again under it), run `mtls-gateway store reseal`, then remove the old key (docs/store.md, Rotating the seal keys).',
    },
    activeKey: { type: 'string', description: 'Id of the sealing key new records use (default: the last one).' },
  },
} as const

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mtls-gateway.dev/schema/gateway.schema.json',
  title: 'mtls-gateway configuration',
  type: 'object',
  additionalProperties: false,
  required: ['endpoints'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      description: 'The one listener for proxied calls and the gateway API. Restart-only except `publicUrl` and `waysIn` (read per request): a reload that changes any other key under `listen` (`timeouts` and `connections` included; of `tls`, anything but the renewed contents of its files and `keyPassphrase`) is refused, and the running gateway keeps its last good config until a restart.',
      properties: {
        host: { type: 'string', default: '0.0.0.0', description: 'Address to bind. `::` is every IPv6 and every IPv4 address: the gateway binds it dual-stack (IPV6_V6ONLY off, whatever `net.ipv6.bindv6only` says), an IPv4 caller is named by its IPv4 address (`10.1.2.3`, not `::ffff:10.1.2.3`) in the access log, `X-Forwarded-For` and every other line. Where the kernel has no IPv6 (booted with `ipv6.disable=1`) `::` falls back to `0.0.0.0`, as Node does when no host is given, with one warning line; any other bind failure stops the start. `0.0.0.0` is every IPv4 address only.' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'Port (0 picks a free one).' },
        publicUrl: { type: 'string', pattern: '^https?://', description: 'How browsers reach the gateway (for OAuth callback links): `https://host[:port][/path]`, without a user name or password, query or fragment (every link built on it would carry them); default derived from the request.' },
        waysIn: {
          type: 'array',
          items: { type: 'string', enum: [...WAYS_IN] },
          minItems: 1, uniqueItems: true, default: [...WAYS_IN],
          description:
            'The ways in this listener serves: `forward` (absolute-form targets, `HTTP_PROXY`), `connect` (CONNECT and every request inside its tunnels, absolute-form naming the tunnel\'s host included), `route` (`/proxy/<endpoint>/…`), `api` (`/gateway/…`). A request on a way left out gets `403` `way_in_disabled` before any endpoint is matched, credential attached or address dialled. Publish only `route` and `api` behind an Ingress or a front proxy whose path rule must bound the endpoint (docs/deploy.md). Reloadable: a reload applies to the next request on open connections too, and one that leaves out `connect` closes open tunnels (a request partly received on one gets the 403 with `Connection: close`).',
        },
        tls: serverTls('Serve the listener over TLS. Turning it on or off, or naming other files, needs a restart; new contents of its files (a renewed certificate, key or client CA) and a new `keyPassphrase` apply on reload.', 'caller', 'callers'),
        timeouts: {
          type: 'object',
          additionalProperties: false,
          description: 'Limits on slow or silent callers of this listener (and of the tunnels it opens for CONNECT).',
          properties: {
            ...clientTimeouts,
            tlsHandshake: tlsHandshake('a caller (`listen.tls`, and inside an intercepted CONNECT tunnel from its `200`)'),
            sendIdle: { ...timerDuration(), default: '60s', description: 'A caller that accepts none of a response being sent for this long (it stopped reading) has its connection cut. `0` turns it off.' },
            tunnelIdle: { ...timerDuration(), default: '10m', description: 'A CONNECT tunnel with no request in progress (intercepted) or no byte either way (pass-through) for this long is closed. `0` turns it off.' },
          },
        },
        connections: connectionLimits(4096),
      },
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      description: 'Admin listener: /metrics, /healthz, /readyz, and the web console under /console/. Restart-only except `token`, `allowedHosts`, `consoleOrigins`, `tls.clientSubjects` and `tls.clientSans` (read per request): a reload that changes any other key under `admin` (of `tls`, anything but the renewed contents of its files and `keyPassphrase`) is refused until a restart.',
      properties: {
        host: { type: 'string', default: '127.0.0.1', description: 'Address to bind (`::` and `0.0.0.0` as for `listen.host`).' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 9090, description: 'Port (0 picks a free one). `listen.port` on an address that overlaps `listen.host` (the same one, or `0.0.0.0` / `::`; `localhost` as the address it resolves to on this machine) is an error in `check`: the second listener could not bind it.' },
        enabled: { type: 'boolean', default: true, description: 'Serve the admin listener.' },
        ...adminHostsSchemas,
        timeouts: { type: 'object', additionalProperties: false, description: 'Limits on slow or silent clients of the admin listener.', properties: { ...clientTimeouts, tlsHandshake: tlsHandshake('an admin client (`admin.tls`)') } },
        connections: connectionLimits(256),
        tls: serverTls('Serve the admin listener over TLS. Turning it on or off, or naming other files, needs a restart; new contents of its files (a renewed certificate, key or client CA) and a new `keyPassphrase` apply on reload. With `requireClientCert`, scrapers and probes of `/metrics`, `/healthz` and `/readyz` need a certificate from `clientCa` too.', 'admin', 'admin clients', {
          clientSubjects: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'Subject CNs of admin client certificates (verified against `clientCa`) that may use the console without the admin token.' },
          clientSans: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'DNS, URI or IP subjectAltNames of admin client certificates (verified against `clientCa`) that may use the console without the admin token.' },
        }),
        token: { type: 'string', minLength: 16, description: 'Operator token for the web console at /console/ (`${env:…}` or `${file:…}`; at least 16 characters). Without it the console is off and says so.' },
      },
    },
    drain: drainSchema,
    logging: loggingSchema,
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxBufferedBody: { ...size, default: '10MiB', description: `Largest body buffered when a feature needs it (payload fields, OAuth form parameters, body hash); larger → 413. At most ${MAX_BUFFERED_BODY} bytes: ${MAX_BUFFERED_BODY_WHY}.` },
        maxBufferedTotal: { ...size, default: '64MiB', description: `Most bytes of such bodies one process holds at once (each worker its own); a body that would pass it → 503 with Retry-After. At least maxBufferedBody; 0 is off. Peak memory is about 5 × this (docs/limits.md). At most \`${MAX_BUFFERED_TOTAL}\`: ${MAX_BUFFERED_TOTAL_WHY}.` },
      },
    },
    forwarding: {
      type: 'object',
      additionalProperties: false,
      properties: {
        xForwardedFor: { type: 'boolean', default: false, description: 'Append the caller address to `X-Forwarded-For` (an IPv4 caller of a listener on `::` as its IPv4 address, not `::ffff:a.b.c.d`; off: backends see the gateway, not the bot runtime; a caller\'s `X-Forwarded-For` and `Forwarded` are removed). On, a caller\'s `Forwarded` keeps only its `for`/`by` pairs. `X-Forwarded-Host`/`-Proto`/`-Port`/`-Prefix` and the like are removed either way.' },
        via: { type: 'boolean', default: true, description: 'Add `Via: 1.1 mtls-gateway` to forwarded requests and responses.' },
      },
    },
    endpoints: { type: 'array', items: endpoint, description: 'The backends the gateway may call. Anything else gets 403.' },
    profiles: { type: 'array', items: profileSchema, description: 'OAuth 1.0a authorization profiles.' },
    store,
    callers: callersSchema,
    interception,
    tracing: tracingSchema,
  },
} as const

export type ConfigSchema = typeof configSchema
