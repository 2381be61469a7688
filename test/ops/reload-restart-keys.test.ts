/**
 * A reload refused for restart-only settings names each key that changed, as the file writes it
 * (`listen.port`, `listen.timeouts.headers`, `store.redis.commandTimeout`), one problem per change:
 * it named the section (`listen: changed…`, `store.redis: changed…`). And `store.url` is judged by
 * what it connects to, not its text: `redis://127.0.0.1:6379` respelled `/0`, without its default
 * port or with a trailing `/` is the same server, and reloads; another database is refused. A real
 * gateway on the shared Redis (unique key prefix), reloaded as SIGHUP does.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REDIS_URL, uniqueRedisPrefix, wipeRedisPrefix } from '../support/store-backends.js'
import { replaceFile, startOpsGateway, type OpsGateway } from './helpers.js'

const RESTART_ONLY = 'changed, and takes effect only after a restart; the running gateway keeps its last good config'
const prefix = uniqueRedisPrefix()

let dir: string
let config: string
let g: OpsGateway

/** REDIS_URL's parts: the same server however the URL is spelled below. */
const server = new URL(REDIS_URL)
const base = `${server.protocol}//${server.username ? `${server.username}:${server.password}@` : ''}${server.host.replace(/:\d+$/, '')}`
const port = server.port || '6379'
const db = server.pathname.slice(1) || '0'

/** The config with store URL `url`; `listen`'s flow mapping and `redis`'s as given. */
function yaml(url: string, listen = 'host: 127.0.0.1, port: 0', redis = '{}'): string {
  return [
    `listen: { ${listen} }`,
    `store: { kind: redis, url: "${url}", keyPrefix: "${prefix}", redis: ${redis} }`,
    'callers:',
    '  apps: [{ clientId: bot, hs256Secret: "0123456789abcdef0123456789abcdef", audience: a, endpoints: ["*"] }]',
    'endpoints: []',
    '',
  ].join('\n')
}

/** Writes `text` and reloads it (the path SIGHUP and the file watch take): the verdict. */
async function reload(text: string): Promise<unknown> {
  replaceFile(config, text)
  return g.gw.ops?.reload('test')
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reload-restart-keys-'))
  config = join(dir, 'gateway.yaml')
  g = await startOpsGateway(dir, yaml(`${base}:${port}`))
})

afterAll(async () => {
  await g?.gw.close()
  await wipeRedisPrefix(prefix)
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('a reload of restart-only settings', () => {
  it('store.url respelled for the same server (database /0, default port, trailing slash) reloads', async () => {
    const spellings = [`${base}:${port}/${db}`, `${base}:${port}/`, ...(port === '6379' ? [`${base}/${db}`, `${base}`] : []), `${base}:${port}`]
    for (const url of spellings.filter((u) => db === '0' || /\/\d+$/.test(u))) expect(await reload(yaml(url)), url).toEqual({ ok: true, endpoints: 0 })
  }, 120_000)

  it('another database in store.url is refused, named store.url', async () => {
    expect(await reload(yaml(`${base}:${port}/${db === '1' ? '2' : '1'}`))).toEqual({ ok: false, problems: [`${config}:2:28: store.url: ${RESTART_ONLY}`] })
  })

  it('names each changed key, one problem per change, at its line', async () => {
    expect(await reload(yaml(`${base}:${port}`, 'host: 127.0.0.1, port: 1, timeouts: { headers: 5s }', '{ commandTimeout: 5s }'))).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(new RegExp(`^${config}:1:\\d+: listen\\.port: changed, and takes effect only after a restart`)),
        expect.stringMatching(new RegExp(`^${config}:1:\\d+: listen\\.timeouts\\.headers: changed, and takes effect only after a restart`)),
        expect.stringMatching(new RegExp(`^${config}:2:\\d+: store\\.redis\\.commandTimeout: changed, and takes effect only after a restart`)),
      ],
    })
  })
})
