/**
 * The dance's browser-facing addresses (the link page and its button, the provider's callback)
 * while the store fails: a person in a browser gets the dance's styled failure page (503, the
 * store's reason and address kept in the access line, never on the page) saying to try again
 * shortly, not the API's JSON body; and nothing is lost: the link, or the approval brought back,
 * that the store could not read or take works once the store answers again. Real stores: a
 * SQLite file another process holds the write lock of, and a private redis-server paused with
 * SIGSTOP. A record the gateway cannot read (a 500) gets the page too, its stack in the log.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, type Reply } from '../support/gateway.js'
import { usePausableRedis } from '../support/redis-server.js'
import { stateOf } from '../support/stopped-process.js'
import { accessLineWhere, eventually, scrape, startOpsGateway, type OpsGateway } from '../ops/helpers.js'
import { authorizeLink, cookieFor, gatewayYaml, pathOf, setCookiesOf, startInBrowser, type StoreYaml } from './dance-support.js'
import { useDanceProvider } from './dance-gateway.js'
import { expectDancePage, expectFailurePage } from './dance-pages.js'
import { sendSignal } from '../support/signals.js'

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** The pages' words, as the user reads them. */
const SAID = {
  linkDown: "The gateway's storage is not answering right now, so this step could not be done.",
  untouched: 'Nothing was used up: try again shortly (reload this page, or open the authorization link again).',
  takeDown: "The gateway's storage is not answering right now, so the authorization could not start yet.",
  takeNext: 'Open the authorization link again shortly. If it then says the link is already used, ask for a new authorization link.',
  claimDown: "The gateway's storage is not answering right now, so this authorization could not be finished yet.",
  claimNext: 'Reload this page shortly to finish it. If it then says the authorization is unknown or already completed, ask for a new authorization link.',
  internal: 'The gateway failed on its side (an internal error).',
}
const html = (text: string): string => text.replaceAll("'", '&#39;')

const fixture = useDanceProvider()
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dance-store-outage-'))
})

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** Runs `test` on a gateway on `store` with its admin listener (metrics), closed after; `extra` lines go under `store:`. */
async function withGateway(store: StoreYaml, test: (g: OpsGateway) => Promise<void>, extra = ''): Promise<void> {
  const yaml = gatewayYaml({ pki: fixture.pki, provider: fixture.provider, store }).replace('admin:\n  enabled: false\n', '').replace('  sealKeys:\n', `${extra}  sealKeys:\n`)
  const g = await startOpsGateway(dir, yaml, { watch: false })
  try {
    await test(g)
  } finally {
    await g.gw.close()
  }
}

/**
 * The access lines of the 503s so far: `count` of them, each store_unavailable naming `where` (the file, the Redis URL).
 * Waited for: a line is written once its request finished on the gateway's side, which can be after the answer was read.
 */
async function expectStoreLines(g: OpsGateway, where: string, count: number): Promise<void> {
  const lines = await eventually(() => {
    const all = g.access().filter((e) => e.status === 503)
    return all.length >= count && all
  }, 15_000, `${count} access line(s) of a 503`)
  expect(lines.map((e) => [e.reason, typeof e.error === 'string' && e.error.includes(where)])).toEqual(Array.from({ length: count }, () => ['store_unavailable', true]))
}

/** The link page's form as the browser holds it. */
function formOf(page: Reply): { action: string; body: string } {
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1]
  const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1]
  if (csrf === undefined || action === undefined) throw new Error(`no form on the link page: ${page.text.slice(0, 200)}`)
  return { action: action.replaceAll('&amp;', '&'), body: new URLSearchParams({ csrf }).toString() }
}

/** `r` is the 503 store page saying `why` and `next`, with nothing of the store on it, and no cookie cleared (the dance goes on). */
function expectStorePage(r: Reply, why: string, next: string, hidden: readonly string[], what: string): void {
  expectFailurePage(r, 503, html(why), what)
  expect(r.text, what).toContain(`<p id="next">${html(next)}</p>`)
  for (const secret of hidden) expect(r.text, what).not.toContain(secret)
  expect(setCookiesOf(r), what).toEqual([])
}

/** The gateway API's 5xx answers so far (endpoint "_gateway"), as the error-ratio alert counts them. */
async function apiErrors(g: OpsGateway): Promise<number> {
  const samples = await scrape(g.adminUrl)
  return samples.filter((s) => s.name === 'mtls_gateway_requests_total' && s.labels.endpoint === '_gateway' && s.labels.status_class === '5xx').reduce((n, s) => n + s.value, 0)
}

/** Another process holding the SQLite file's write lock (BEGIN IMMEDIATE) until release(); held() while it runs. */
async function lockSqlite(file: string): Promise<{ held(): boolean; release(): Promise<void> }> {
  const child: ChildProcess = spawn('/usr/bin/python3', ['-c', "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1],isolation_level=None)\nc.execute('BEGIN IMMEDIATE')\nprint('locked',flush=True)\nsys.stdin.read()", file], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => c.toString().includes('locked') && resolve())
    child.once('exit', (code) => reject(new Error(`the locking process exited ${code}`)))
  })
  return {
    held: () => child.exitCode === null && child.signalCode === null,
    async release() {
      child.stdin?.end()
      await exited
    },
  }
}

/** Whether a writer of `file` is refused at once (SQLITE_BUSY): another connection holds the write lock. */
function writeRefused(file: string): boolean {
  const probe = new Database(file, { timeout: 0 })
  try {
    probe.exec('BEGIN IMMEDIATE')
    probe.exec('ROLLBACK')
    return false
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'SQLITE_BUSY') throw e
    return true
  } finally {
    probe.close()
  }
}

describe('a SQLite file another process holds the write lock of', () => {
  it('the button and the callback answer the 503 page; once the lock is gone the same link and the same approval complete the dance', async () => {
    const file = join(dir, 'locked.db')
    await withGateway({ kind: 'sqlite', file }, async (g) => {
      const link = await authorizeLink(g.gw.url, 'user=alice')
      const page = await send(g.gw.url, pathOf(link))
      expectDancePage(page, 200, 'the link page')
      const form = formOf(page)
      const errorsBefore = await apiErrors(g)
      const lock = await lockSqlite(file)
      let click: Reply
      try {
        click = await send(g.gw.url, form.action, { method: 'POST', headers: FORM, body: form.body })
      } finally {
        await lock.release()
      }
      expectStorePage(click, SAID.takeDown, SAID.takeNext, [file, 'SQLITE', 'locked'], 'the button while the file is locked')
      // The link was not used: its button works now, and the dance completes.
      const started = await startInBrowser(link, { provider: fixture.provider })
      const callbackUrl = await fixture.provider.decide(started.requestToken, 'approve')
      const back = (): Promise<Reply> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      const relock = await lockSqlite(file)
      let during: Reply
      try {
        during = await back()
      } finally {
        await relock.release()
      }
      expectStorePage(during, SAID.claimDown, SAID.claimNext, [file, 'SQLITE', 'locked', started.requestToken], 'the callback while the file is locked')
      const done = await back()
      expectDancePage(done, 200, 'the callback once the lock is gone')
      expect(done.text).toContain('Authorization complete')
      // The operator's view: each a 503 store_unavailable naming the file, counted as the gateway API's 5xx.
      await expectStoreLines(g, file, 2)
      expect((await apiErrors(g)) - errorsBefore).toBe(2)
    })
  })
})

/** The digest-named key of a one-time link or a pending request, as the store holds it. */
const storeKey = (kind: 'link' | 'request', secret: string): string => `oauth1:${kind}:${createHash('sha256').update(secret).digest('base64url')}`

/**
 * `request` sent while the provider is paused (SIGSTOP), so the gateway waits on its answer; once
 * `key` is gone from the SQLite file (the gateway took it), another process locks the file and the
 * provider resumes: the gateway's next write meets the lock. Resolves to the reply.
 */
async function lockedAfterTake(file: string, key: string, request: () => Promise<Reply>): Promise<Reply> {
  const provider = fixture.provider.pid
  sendSignal(provider, 'SIGSTOP')
  let resumed = false
  let lock: Awaited<ReturnType<typeof lockSqlite>> | undefined
  try {
    await eventually(() => stateOf(provider) === 'T', 10_000, 'the provider to stop')
    const reply = request()
    const db = new Database(file, { readonly: true })
    try {
      const stored = db.prepare('SELECT count(*) AS n FROM store_entries WHERE key = ?')
      while ((stored.get(key) as { n: number }).n > 0) await new Promise((r) => setTimeout(r, 20))
    } finally {
      db.close()
    }
    lock = await lockSqlite(file)
    // What the gateway's next write meets, checked rather than assumed (CI once saw the 200 here, in 2 s:
    // no write waited out the lock): a writer is refused now, and the provider has not answered yet.
    expect(writeRefused(file), 'the file\'s write lock held by the other process').toBe(true)
    expect(stateOf(provider), 'the provider still stopped (continued by nothing but this test)').toBe('T')
    sendSignal(provider, 'SIGCONT')
    resumed = true
    const answer = await reply
    expect(lock.held(), 'the lock held until the answer').toBe(true)
    return answer
  } finally {
    if (!resumed) sendSignal(provider, 'SIGCONT')
    await lock?.release()
  }
}

describe('a SQLite file locked after the gateway took the link or the pending request', () => {
  it('the button: the 503 page says the link is used up (a store failure in the access line, not the provider\'s), and so it is', async () => {
    const file = join(dir, 'used-link.db')
    await withGateway({ kind: 'sqlite', file }, async (g) => {
      const link = await authorizeLink(g.gw.url, 'user=dave')
      const form = formOf(await send(g.gw.url, pathOf(link)))
      const id = new URL(link).searchParams.get('link') as string
      const click = await lockedAfterTake(file, storeKey('link', id), () => send(g.gw.url, form.action, { method: 'POST', headers: FORM, body: form.body }))
      expectStorePage(click, 'The gateway\'s storage stopped answering while the authorization was starting, so it could not start, and this link is now used up.', 'Ask for a new authorization link shortly.', [file, 'SQLITE', 'locked'], 'the button, the file locked after the link was taken')
      const again = await send(g.gw.url, pathOf(link))
      expectFailurePage(again, 400, 'This authorization link is unknown, expired or already used.', 'the used-up link')
      await expectStoreLines(g, file, 1)
    })
  })

  it('the callback: the provider approved, the store did not keep the token: the 503 page says so, the cookie is cleared, and the dance is used up', async () => {
    const file = join(dir, 'unsaved-token.db')
    await withGateway({ kind: 'sqlite', file }, async (g) => {
      const started = await startInBrowser(await authorizeLink(g.gw.url, 'user=erin'), { provider: fixture.provider })
      const callbackUrl = await fixture.provider.decide(started.requestToken, 'approve')
      const back = (): Promise<Reply> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      const done = await lockedAfterTake(file, storeKey('request', started.requestToken), back)
      expectFailurePage(done, 503, html('Partner Bank approved the access, but the gateway\'s storage did not confirm saving it, so it may not have been kept.'), 'the callback, the file locked after the exchange')
      expect(done.text).toContain(`<p id="next">This authorization is used up. If you are asked to authorize again, ask for a new authorization link shortly.</p>`)
      for (const secret of [file, 'SQLITE', started.requestToken]) expect(done.text).not.toContain(secret)
      expect(setCookiesOf(done).some((c) => c.name === started.cookie.name && c.attributes['max-age'] === '0')).toBe(true)
      const again = await back()
      expectFailurePage(again, 400, 'This authorization is unknown, expired or already completed.', 'the callback again')
      await expectStoreLines(g, file, 1)
    })
  })
})

describe('a redis-server paused with SIGSTOP', () => {
  const redis = usePausableRedis()
  const whilePaused = <T>(fn: () => Promise<T>): Promise<T> => redis.whilePaused(fn)

  it('the link page and the callback answer the 503 page; once it resumes the same link and the same approval complete the dance', async () => {
    const server = redis.server
    await withGateway({ kind: 'redis', url: server.url, keyPrefix: 'dance-store-outage:' }, async (g) => {
      const link = await authorizeLink(g.gw.url, 'user=bob')
      const errorsBefore = await apiErrors(g)
      const opened = await whilePaused(() => send(g.gw.url, pathOf(link)))
      const port = String(server.port)
      expectStorePage(opened, SAID.linkDown, SAID.untouched, [port, 'redis'], 'the link page while Redis is paused')
      const started = await startInBrowser(link, { provider: fixture.provider })
      const callbackUrl = await fixture.provider.decide(started.requestToken, 'approve')
      const back = (): Promise<Reply> => send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      const during = await whilePaused(back)
      expectStorePage(during, SAID.claimDown, SAID.claimNext, [port, 'redis', started.requestToken], 'the callback while Redis is paused')
      // Only read while paused: the commands Redis carries out on resuming take nothing.
      const done = await back()
      expectDancePage(done, 200, 'the callback once Redis answers')
      expect(done.text).toContain('Authorization complete')
      await expectStoreLines(g, server.url, 2)
      expect((await apiErrors(g)) - errorsBefore).toBe(2)
    }, '  redis:\n    commandTimeout: 1500ms\n')
  })
})

describe('a pending request the gateway cannot read', () => {
  it('the callback answers the 500 page, its stack in the access line only', async () => {
    const file = join(dir, 'unreadable.db')
    await withGateway({ kind: 'sqlite', file }, async (g) => {
      const started = await startInBrowser(await authorizeLink(g.gw.url, 'user=carol'), { provider: fixture.provider })
      const callbackUrl = await fixture.provider.decide(started.requestToken, 'approve')
      const db = new Database(file)
      try {
        expect(db.prepare('UPDATE store_entries SET value = ? WHERE key = ?').run('{not json', storeKey('request', started.requestToken)).changes).toBe(1)
      } finally {
        db.close()
      }
      const done = await send(g.gw.url, pathOf(callbackUrl), { headers: cookieFor(started.cookie, callbackUrl) })
      expectFailurePage(done, 500, SAID.internal, 'the callback of an unreadable record')
      expect(done.text).not.toContain('JSON')
      const line = await accessLineWhere(g, (e) => e.status === 500, 'the 500\'s access line')
      expect([line?.reason, typeof line?.cause === 'string' && line.cause.includes('SyntaxError')]).toEqual(['internal', true])
    })
  })
})
