/**
 * For the check/serve parity tests: a valid config that uses every file a start reads, and the
 * faults a generated test puts in one of those files (a missing file, a folder, a path under a
 * regular file, an empty file, text that is not PEM, the wrong kind of PEM, another certificate
 * or key, a file that is not a database…). Each faulty path is made in a fresh folder of its own.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestPki } from './pki.js'

/** Every file reference of the base config, by key, with the kind of thing it names. */
export const PARITY_TARGETS = {
  'endpoints[0].tls.cert': 'cert',
  'endpoints[0].tls.key': 'key',
  'endpoints[0].tls.intermediates': 'cert',
  'endpoints[0].tls.roots': 'cert',
  'endpoints[1].tls.dir': 'dir',
  'listen.tls.cert': 'cert',
  'listen.tls.key': 'key',
  'listen.tls.clientCa': 'cert',
  'admin.tls.cert': 'cert',
  'admin.tls.key': 'key',
  'admin.tls.clientCa': 'cert',
  'interception.caCert': 'cert',
  'interception.caKey': 'key',
  'tracing.otlp.tls.ca': 'cert',
  'tracing.otlp.tls.cert': 'cert',
  'tracing.otlp.tls.key': 'key',
  'callers.apps[0].hs256Secret': 'secret',
  'callers.apps[1].rs256PublicKey': 'secret',
  'callers.gatewayKeys[0].privateKey': 'secret',
  'admin.token': 'secret',
  'profiles[0].privateKey': 'key',
  'store.sealKeys[0].key': 'secret',
  'store.file': 'store',
  'store.redis.tls.ca': 'cert',
  'store.redis.tls.cert': 'cert',
  'store.redis.tls.key': 'key',
} as const
export type ParityTarget = keyof typeof PARITY_TARGETS
type Kind = (typeof PARITY_TARGETS)[ParityTarget]

const FAULTS = {
  cert: ['missing', 'folder', 'under_file', 'empty', 'not_pem', 'wrong_pem', 'other_pem'],
  key: ['missing', 'folder', 'under_file', 'empty', 'not_pem', 'wrong_pem', 'other_pem', 'encrypted'],
  dir: ['missing', 'under_file', 'empty_folder', 'empty'],
  secret: ['missing', 'folder', 'under_file', 'empty', 'not_pem'],
  store: ['new_folder', 'folder', 'under_file', 'empty', 'not_a_database'],
} as const satisfies Record<Kind, readonly string[]>
export type ParityFault = (typeof FAULTS)[Kind][number]

/**
 * The files Node would load although they cannot work (a CA file with no certificate; a client
 * certificate or key that is not one, or a key that does not match it, or one encrypted without a
 * passphrase), which the gateway refuses when it reads them: every fault of these keys is refused
 * by both `check` and a start. Another real certificate (a leaf, CA:FALSE) in a CA file, in an
 * endpoint's roots or among its intermediates is refused wherever it is: it anchors or issues nothing.
 */
const CONTENT_CHECKED: readonly ParityTarget[] = ['listen.tls.clientCa', 'admin.tls.clientCa', 'tracing.otlp.tls.ca', 'tracing.otlp.tls.cert', 'tracing.otlp.tls.key', 'store.redis.tls.ca', 'store.redis.tls.cert', 'store.redis.tls.key']

/** Whether `fault` in `target` must be refused (by `check` and by a start alike). */
export function mustBeRefused(target: ParityTarget, fault: ParityFault): boolean {
  if (fault === 'other_pem' && /(ca|clientCa|roots|intermediates)$/.test(target)) return true
  return CONTENT_CHECKED.includes(target)
}

/** The faults tried on `target`. */
export const faultsOf = (target: ParityTarget): readonly ParityFault[] => FAULTS[PARITY_TARGETS[target]]

/** The base config's file for a key target (what the `encrypted` fault encrypts). */
function baseKeyFile(target: ParityTarget): string {
  if (target.startsWith('listen.') || target.startsWith('admin.')) return 'server.key'
  return target === 'interception.caKey' ? 'ca.key' : target === 'profiles[0].privateKey' ? 'rsa.key' : 'client.key'
}

/** The faulty path `fault` names for `target`, made in `dir`. */
export function faultyPath(pki: TestPki, dir: string, target: ParityTarget, fault: ParityFault): string {
  const kind = PARITY_TARGETS[target]
  const file = join(dir, `${target.replace(/\W+/g, '-')}.${kind === 'store' ? 'db' : 'pem'}`)
  const plain = join(dir, 'plain-file')
  writeFileSync(plain, 'x')
  switch (fault) {
    case 'missing':
      return file
    case 'new_folder':
      return join(dir, 'state', 'sub', 'gateway.db')
    case 'folder':
    case 'empty_folder':
      mkdirSync(file)
      return file
    case 'under_file':
      return kind === 'store' ? join(plain, 'state', 'gateway.db') : join(plain, 'inside.pem')
    case 'empty':
      writeFileSync(file, '')
      return file
    case 'not_pem':
    case 'not_a_database':
      writeFileSync(file, 'not what the key expects\n')
      return file
    case 'encrypted':
      // The right key, encrypted: the base config gives no passphrase.
      writeFileSync(file, createPrivateKey(readFileSync(pki.file(baseKeyFile(target)))).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'parity' }))
      return file
    case 'wrong_pem':
      return kind === 'key' ? pki.file('root.crt') : pki.file('client.key')
    case 'other_pem':
      // The right kind of PEM, not the one the key needs: a leaf that is no CA, a key of another certificate.
      return kind === 'key' ? pki.file(target === 'interception.caKey' ? 'client.key' : 'ca.key') : pki.file('server.crt')
  }
}

export interface ParityConfigOptions {
  /** Files replacing the base config's, by key. */
  paths?: Partial<Record<ParityTarget, string>>
  ports?: { listen: number; admin: number }
  /** listen.host and admin.host (default 127.0.0.1 both). */
  hosts?: { listen: string; admin: string }
  /** The store: SQLite (in `dir`) unless a store.redis key is faulty or this says redis. */
  store?: 'sqlite' | 'redis'
}

/**
 * Writes the base config (valid: `check` passes and `serve` starts; the PKI needs `ca.*` and a
 * `k8s` folder, made by prepareParityPki) with `paths` replacing its files, into `dir`.
 */
export function writeParityConfig(pki: TestPki, dir: string, o: ParityConfigOptions = {}): string {
  const paths = o.paths ?? {}
  const f = (t: ParityTarget, name: string): string => paths[t] ?? pki.file(name)
  const ports = o.ports ?? { listen: 0, admin: 0 }
  const hosts = o.hosts ?? { listen: '127.0.0.1', admin: '127.0.0.1' }
  const redis = o.store === 'redis' || Object.keys(paths).some((k) => k.startsWith('store.redis'))
  // Redis is not reached at start (a closed port): the store connects in the background.
  const store = redis
    ? `  kind: redis\n  url: rediss://127.0.0.1:1/0\n  redis: { tls: { ca: ${f('store.redis.tls.ca', 'root.crt')}, cert: ${f('store.redis.tls.cert', 'client.crt')}, key: ${f('store.redis.tls.key', 'client.key')} } }\n`
    : `  file: ${paths['store.file'] ?? join(dir, 'gateway.db')}\n`
  const sealKeys = `  sealKeys: [{ id: a, key: "\${file:${f('store.sealKeys[0].key', 'seal-key')}}" }]\n`
  const yaml = `listen:
  host: ${hosts.listen}
  port: ${ports.listen}
  tls: { cert: ${f('listen.tls.cert', 'server-chain.crt')}, key: ${f('listen.tls.key', 'server.key')}, clientCa: ${f('listen.tls.clientCa', 'root.crt')} }
admin:
  host: ${hosts.admin}
  port: ${ports.admin}
  tls: { cert: ${f('admin.tls.cert', 'server-chain.crt')}, key: ${f('admin.tls.key', 'server.key')}, clientCa: ${f('admin.tls.clientCa', 'root.crt')} }
  token: "\${file:${f('admin.token', 'admin-token')}}"
endpoints:
  - name: partner
    url: https://api.partner.test:8443
    tls: { cert: ${f('endpoints[0].tls.cert', 'client.crt')}, key: ${f('endpoints[0].tls.key', 'client.key')}, intermediates: ${f('endpoints[0].tls.intermediates', 'inter.crt')}, roots: ${f('endpoints[0].tls.roots', 'root.crt')} }
  - name: mounted
    url: https://api.mounted.test
    profile: rsa
    tls: { dir: ${f('endpoints[1].tls.dir', 'k8s')} }
profiles:
  - { name: rsa, consumerKey: ck, signatureMethod: RSA-SHA1, privateKey: ${f('profiles[0].privateKey', 'rsa.key')} }
interception:
  caCert: ${f('interception.caCert', 'ca.crt')}
  caKey: ${f('interception.caKey', 'ca.key')}
tracing:
  enabled: true
  otlp: { endpoint: "https://127.0.0.1:4318/v1/traces", tls: { ca: ${f('tracing.otlp.tls.ca', 'root.crt')}, cert: ${f('tracing.otlp.tls.cert', 'client.crt')}, key: ${f('tracing.otlp.tls.key', 'client.key')} } }
store:
${store}${sealKeys}callers:
  apps:
    - { clientId: bot, hs256Secret: "\${file:${f('callers.apps[0].hs256Secret', 'app-secret')}}", audience: https://gw.example, endpoints: [partner] }
    - { clientId: signer, rs256PublicKey: "\${file:${f('callers.apps[1].rs256PublicKey', 'rsa.pub')}}", audience: https://gw.example, endpoints: [partner] }
  gatewayKeys: [{ kid: gw-1, privateKey: "\${file:${f('callers.gatewayKeys[0].privateKey', 'rsa.key')}}" }]
`
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, yaml)
  return file
}

/** Adds what the base config names beyond createTestPki's files: the interception CA, a TLS Secret folder, an RSA pair, the secrets. */
export function prepareParityPki(pki: TestPki): void {
  pki.writePair('ca', pki.inter)
  mkdirSync(pki.file('k8s'))
  pki.write('k8s/tls.crt', pki.client.pem + pki.inter.pem)
  writeFileSync(pki.file('k8s/tls.key'), readFileSync(pki.file('client.key')))
  pki.write('k8s/ca.crt', pki.root.pem)
  pki.write('app-secret', '0123456789abcdef0123456789abcdef')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  pki.write('rsa.key', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
  pki.write('rsa.pub', rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string)
  pki.write('seal-key', randomBytes(32).toString('base64'))
  pki.write('admin-token', 'operator-token-0123456789')
}
