/**
 * The `endpoints[].tls` section of the schema, also each `endpoints[].tenants.<name>.tls` (part
 * of schema.ts's single source, kept apart so the section reads as one piece).
 */
import { NOT_CA } from './schema-operations.js'

const fileList = {
  $comment: 'file-list',
  description: 'A file path, or a list of them. Relative paths are relative to the config file.',
  anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }],
} as const

const tlsVersion = { type: 'string', enum: ['TLSv1.2', 'TLSv1.3'] } as const

/** An endpoint's client bundle and server verification. */
export const endpointTls = {
  type: 'object',
  additionalProperties: false,
  description:
    'The endpoint\'s client bundle and server verification. Give the bundle as `cert` + `key` (PEM), as `pkcs12`, or as `dir` (a Kubernetes TLS Secret mount).',
  properties: {
    cert: { type: 'string', description: 'PEM client certificate; intermediates may be appended after it.' },
    key: { type: 'string', description: 'PEM private key: PKCS#1, PKCS#8 or SEC1 (EC), plain or encrypted.' },
    keyPassphrase: { type: 'string', description: 'Passphrase of an encrypted key (`key`, or `tls.key` in `dir`). Use `${env:…}` or `${file:…}`. Given with `pkcs12` alone it is a config error: that file\'s passphrase is `pkcs12Passphrase`.' },
    intermediates: { ...fileList, description: 'PEM intermediate certificate file(s), sent after the client certificate (with `pkcs12`, after the file\'s own chain). When several certificates could issue the same one (a CA renewed with its key), the chain takes one within its dates, the last to expire, in any order of the files; `roots` and `clientRoots` likewise. A certificate that is not a CA (basicConstraints CA:FALSE or none) is a config error, here and after the client certificate in `cert`: it cannot issue the one before it.' },
    pkcs12: { type: 'string', description: 'A PKCS#12 (.p12/.pfx) file holding the key, certificate and chain. Its certificates besides the client certificate are the chain: one that is not a CA (basicConstraints CA:FALSE or none) is a config error, as in `intermediates`.' },
    pkcs12Passphrase: { type: 'string', description: 'Passphrase of the PKCS#12 file, in any characters (non-ASCII ones as OpenSSL reads them: UTF-8). Without `pkcs12` it is a config error.' },
    dir: {
      type: 'string',
      description: 'A directory laid out like a Kubernetes TLS Secret: `tls.crt`, `tls.key`, and `ca.crt` (roots, used when `roots` is not given).',
    },
    roots: { ...fileList, description: 'PEM root certificate(s) that the server certificate must chain to; required (or `ca.crt` in `dir`). The only trust anchors unless `systemRoots` adds the system ones. An intermediate CA here is an anchor itself (as curl trusts one given as `--cacert`): it accepts the servers it issued, not the other servers of its root.' + NOT_CA },
    clientRoots: {
      ...fileList,
      description: 'Extra roots used only to check that the client chain builds (never to verify the server). Where the chain ends at a CA that is not self-signed (an intermediate given here or in `roots`), the handshake presents that CA after the client certificate and its intermediates, so a server trusting only the root still builds the chain.' + NOT_CA,
    },
    systemRoots: { type: 'boolean', default: false, description: 'Also trust the system (Mozilla) roots for the server certificate, besides `roots` (which stay required).' },
    serverName: { type: 'string', minLength: 1, description: 'Name sent as SNI and checked against the server certificate (default: the URL host). For the endpoint URL\'s origin only: a profile\'s token URL on another host sends and verifies its own name (`profiles[].tokenUrlsOnEndpointServer` aside).' },
    minVersion: { ...tlsVersion, default: 'TLSv1.2', description: 'Lowest TLS version offered.' },
    maxVersion: { ...tlsVersion, description: 'Highest TLS version offered (default: the highest Node supports).' },
    pins: {
      type: 'array',
      items: { type: 'string', pattern: '^(sha256/)?[A-Za-z0-9+/]{43}=$' },
      description: 'SPKI SHA-256 pins (base64, optionally prefixed `sha256/`); one certificate in the server chain must match. For the endpoint URL\'s origin only, like `serverName`.',
    },
    crl: { ...fileList, description: 'PEM CRL file(s), each holding one or more CRLs; the server certificate is refused when revoked. Every CA of the server chain needs one (root included); a CRL past its nextUpdate degrades the endpoint (502 `server_crl_not_valid`) until a fresh one is in place.' },
  },
} as const

/** One entry of `endpoints[].tenants`: a tenant with its own bundle. */
export const tenantSchema = {
  type: 'object', additionalProperties: false, required: ['tls'],
  description: 'One tenant, named by the key: the tenant as requests name it (a lower-case DNS label).',
  properties: { tls: { ...endpointTls, description: 'This tenant\'s own client bundle and server verification, used instead of the endpoint\'s `tls` (nothing is taken from it). Give the bundle as `cert` + `key` (PEM), as `pkcs12`, or as `dir` (a Kubernetes TLS Secret mount).' } },
} as const
