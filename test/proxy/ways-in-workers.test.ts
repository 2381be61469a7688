/**
 * listen.waysIn in the real CLI with `--workers 2`, on the plain and the TLS listener, across a
 * SIGHUP reload: every connection (whichever worker takes it) is judged by the list in force,
 * the refusal is the 403 way_in_disabled body with its Content-Length, and the ways in the list
 * serve as before.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answeredBy, answersFromEach, type LineOfCall, type LogEntry } from '../support/log-entries.js'
import type { GatewayProcess } from '../support/process.js'
import { expectJsonError, startWaysIn, type Answer, type Way, type WaysIn } from '../support/ways-in.js'
import { childPids } from '../ops/helpers.js'

let w: WaysIn

beforeAll(async () => {
  w = await startWaysIn(['--workers', '2'], '', ', waysIn: [route, api]')
}, 180_000)

afterAll(async () => w?.stop())

/**
 * Rewrites both gateways' waysIn and reloads them by SIGHUP; resolves once each worker of each
 * judges a route-mode request by the new list (a `config reloaded` line may be the previous
 * write's second reload: its directory watcher's).
 */
async function reloadBoth(from: string, to: string): Promise<void> {
  const routeServed = to.includes('route')
  const reloaded = async (gp: GatewayProcess, name: string, way: Way): Promise<void> => {
    const file = join(w.pki.dir, `${name}.yaml`)
    writeFileSync(file, readFileSync(file, 'utf8').replace(`waysIn: ${from}`, `waysIn: ${to}`))
    gp.child.kill('SIGHUP')
    const probe = (tag: string): Promise<Answer> => w.ask(way, `GET /proxy/partner/x HTTP/1.1\r\nHost: gw.test\r\nX-Request-Id: ${tag}\r\nConnection: close\r\n\r\n`)
    await answeredBy(gp, childPids(gp.child.pid as number), probe, (a) => a.status === (routeServed ? 200 : 403), `waysIn: ${to} on ${name}`)
  }
  await Promise.all([reloaded(w.plain, 'plain', 'plain'), reloaded(w.secure, 'secure', 'tls')])
}

const partner = (): string => `api.partner.test:${w.port}`
/** A CONNECT's access line: its id is its own (X-Request-Id names requests only). */
const isConnectLine = (e: LogEntry): boolean => e.msg === 'request' && e.method === 'CONNECT'
/** A CONNECT's line: the one not there before it (asked one at a time, each line awaited). */
const newConnectLine = (gp: GatewayProcess): LineOfCall => () => {
  const before = new Set(gp.logEntries().filter(isConnectLine).map((e) => e.reqId))
  return (e) => isConnectLine(e) && !before.has(e.reqId)
}

/**
 * Fresh connections on `way`, each head tagged (X-Request-Id), until both workers of the gateway
 * that serves it answered one, every answer checked (a fixed number of them may all meet one worker).
 */
async function askEach(way: Way, head: string, check: (a: Awaited<ReturnType<WaysIn['ask']>>) => void): Promise<void> {
  const gp = way === 'tls' ? w.secure : w.plain
  const tagged = (tag: string): string => head.replace('\r\n', `\r\nX-Request-Id: ${tag}\r\n`)
  const ask = async (tag: string): Promise<Answer> => {
    const answer = await w.ask(way, tagged(tag))
    check(answer)
    return answer
  }
  await answersFromEach(gp, childPids(gp.child.pid as number), ask, head.startsWith('CONNECT ') ? newConnectLine(gp) : undefined)
}
const refused = (way: string) => (a: Awaited<ReturnType<WaysIn['ask']>>) => expectJsonError(a, 403, new RegExp(`is not served on this listener: add "${way}" to listen\\.waysIn to serve it$`))
const served = (a: Awaited<ReturnType<WaysIn['ask']>>): void => expect(a.status).toBe(200)

describe('listen.waysIn with --workers 2, plain and TLS listeners, and a SIGHUP reload', () => {
  it('[route, api]: absolute-form and CONNECT are refused on both listeners; route mode is served', async () => {
    for (const way of ['plain', 'tls'] as const) {
      await askEach(way, `GET http://${partner()}/proxy/partner/x HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`, refused('forward'))
      await askEach(way, `CONNECT ${partner()} HTTP/1.1\r\nHost: ${partner()}\r\n\r\n`, refused('connect'))
      await askEach(way, `GET /proxy/partner/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`, served)
    }
  }, 120_000)

  it('after a reload to [connect]: tunnels serve their inner requests, absolute-form naming the tunnel too; route mode and plain absolute-form are refused', async () => {
    await reloadBoth('[route, api]', '[connect]')
    await askEach('tunnel', `GET /in HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`, served)
    await askEach('tunnel', `GET https://${partner()}/in HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`, served)
    for (const way of ['plain', 'tls'] as const) {
      await askEach(way, `GET /proxy/partner/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`, refused('route'))
      await askEach(way, `GET http://${partner()}/x HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`, refused('forward'))
    }
    // And back: as after a fresh start with the first file.
    await reloadBoth('[connect]', '[route, api]')
    await askEach('tls', `GET https://${partner()}/x HTTP/1.1\r\nHost: ${partner()}\r\nConnection: close\r\n\r\n`, refused('forward'))
    await askEach('plain', `GET /proxy/partner/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`, served)
  }, 240_000)
})
