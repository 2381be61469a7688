/**
 * The per-user path: the production gateway signing each call with the user's own token,
 * read from the store on every request (sealed record, opened per call) — once with SQLite,
 * once with Redis — so `npm run bench` can report Redis against SQLite as a ratio.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTokenRepo } from '../src/dance/tokens.js'
import { createSealer, openStore, parseSealKey, type Store } from '../src/store/index.js'
import { DIST, OAUTH, type GatewayProc, type GatewayRun } from './gateways.js'
import { HOSTS, type BenchPki } from './pki.js'
import type { Upstream } from './peers.js'
import { freePort, startProc } from './procs.js'

/** The user every per-user request names (X-Gateway-User). */
export const BENCH_USER = 'bench-user'
/** The Redis the per-user path uses (the machine's; a fresh key prefix, removed afterwards). */
const REDIS_URL = process.env.MTLS_GATEWAY_BENCH_REDIS ?? 'redis://127.0.0.1:6379'

export type UserStoreKind = 'sqlite' | 'redis'

function storeYaml(kind: UserStoreKind, dir: string, keyPrefix: string, sealKey: string): string {
  const where = kind === 'sqlite' ? `  kind: sqlite\n  file: ${join(dir, 'state.db')}\n` : `  kind: redis\n  url: ${REDIS_URL}\n  keyPrefix: "${keyPrefix}"\n`
  return `store:\n${where}  sealKeys: [{ id: k1, key: "${sealKey}" }]\n`
}

function userGatewayYaml(pki: BenchPki, upstream: Upstream, port: number, store: string): string {
  const c = pki.clients.signed
  return `listen: { host: 127.0.0.1, port: ${port} }
admin: { enabled: false }
${store}callers: { required: false, adminToken: ${randomBytes(24).toString('hex')} }
profiles:
  - name: bench
    consumerKey: ${OAUTH.consumerKey}
    consumerSecret: ${OAUTH.consumerSecret}
    signatureMethod: HMAC-SHA1
    requestTokenUrl: https://${HOSTS.signed}:${upstream.port}/request_token
    accessTokenUrl: https://${HOSTS.signed}:${upstream.port}/access_token
    authorizeUrl: https://${HOSTS.signed}:${upstream.port}/authorize
    token: { mode: per_user }
endpoints:
  - name: signed
    url: https://${HOSTS.signed}:${upstream.port}
    resolve: 127.0.0.1
    allowPrivate: true
    profile: bench
    fields: [{ type: header, key: X-Partner-Key, value: "pk-bench-0001" }]
    tls: { cert: ${c.cert}, key: ${c.key}, intermediates: ${pki.inter}, roots: ${pki.root} }
`
}

/** Writes the user's token the way the dance does, through the gateway's own repository. */
async function seedToken(store: Store, sealKey: string): Promise<void> {
  const sealer = createSealer([{ id: 'k1', key: parseSealKey(sealKey) }], 'k1')
  const repo = createTokenRepo({ store, sealer, anonymousTtlMs: 60_000 })
  // The bench's caller has no app (callers.required: false, X-Gateway-User): user space "".
  await repo.saveToken({ space: '', profile: 'bench', user: BENCH_USER, anonymous: false }, { token: OAUTH.token, tokenSecret: OAUTH.tokenSecret, obtainedAt: Date.now() })
}

/** Starts `serve --workers 1` with a per-user profile on the given store, the user's token seeded. */
export async function startUserGateway(root: string, pki: BenchPki, upstream: Upstream, kind: UserStoreKind, o: GatewayRun = {}): Promise<GatewayProc> {
  const { nodeArgs = [], dist = DIST } = o
  const dir = join(root, `gateway-user-${kind}${o.tag ?? ''}`)
  mkdirSync(dir, { recursive: true })
  const keyPrefix = `mtls-gateway-bench:${randomUUID()}:`
  const sealKey = randomBytes(32).toString('hex')
  const storeConfig = kind === 'sqlite' ? { kind, file: join(dir, 'state.db') } : { kind, url: REDIS_URL, keyPrefix }
  const seeding = openStore(storeConfig)
  try {
    await seedToken(seeding, sealKey)
  } finally {
    await seeding.close()
  }
  const port = await freePort()
  const config = join(dir, 'gateway.yaml')
  writeFileSync(config, userGatewayYaml(pki, upstream, port, storeYaml(kind, dir, keyPrefix, sealKey)))
  const proc = await startProc({ name: `gateway-user-${kind}${o.tag ?? ''}`, command: o.node ?? process.execPath, args: [...nodeArgs, join(dist, 'src', 'main.js'), 'serve', '--config', config, '--workers', '1'], cwd: dir, port, readyLine: /"msg":"listening"/, ...(o.cpus !== undefined ? { cpus: o.cpus } : {}) })
  const stop = proc.stop.bind(proc)
  return Object.assign(proc, {
    port,
    async stop() {
      await stop()
      if (kind !== 'redis') return
      // The Redis keys are the bench's own (fresh prefix): remove them.
      const s = openStore(storeConfig)
      for (const k of await s.keys('')) await s.delete(k)
      await s.close()
    },
  })
}
