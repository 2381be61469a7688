/**
 * The test PKI's mTLS upstream that echoes every request except those to a path holding `/held`:
 * those wait in `waiting` until the test answers (echo) or drops them, so a request stays in
 * flight through a drain for as long as the test needs. It notes each request's `X-Request-Id`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll } from 'vitest'
import { createTestPki, type TestPki } from './pki.js'
import { echo, startMtlsServer, type RunningServer } from './tls-server.js'

export interface HoldingUpstream {
  server: RunningServer
  /** Held requests, in arrival order. */
  waiting: { req: IncomingMessage; res: ServerResponse }[]
  /** The `X-Request-Id` of every request received, in arrival order. */
  reached: string[]
  /** Answers every held request (echo). */
  release(): void
  /** Drops every held request, then closes the server. */
  close(): Promise<void>
}

export async function startHoldingUpstream(pki: Pick<TestPki, 'file'>): Promise<HoldingUpstream> {
  const waiting: HoldingUpstream['waiting'] = []
  const reached: string[] = []
  const server = await startMtlsServer({
    cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt'),
    handler: (req, res) => {
      reached.push(String(req.headers['x-request-id']))
      return req.url?.includes('/held') ? void waiting.push({ req, res }) : echo(req, res)
    },
  })
  return {
    server,
    waiting,
    reached,
    release: () => {
      for (const w of waiting.splice(0)) echo(w.req, w.res)
    },
    close: async () => {
      for (const w of waiting.splice(0)) w.res.destroy()
      await server.close()
    },
  }
}

/** For a test file: a test PKI and its holding upstream, started before the file's tests and closed after them (read inside tests). */
export function useHoldingUpstream(): { readonly pki: TestPki; readonly upstream: HoldingUpstream } {
  let pki: TestPki | undefined
  let upstream: HoldingUpstream | undefined
  beforeAll(async () => {
    pki = await createTestPki()
    upstream = await startHoldingUpstream(pki)
  })
  afterAll(async () => {
    await upstream?.close()
    pki?.cleanup()
  })
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useHoldingUpstream: started once beforeAll ran')
    return v
  }
  return {
    get pki() { return started(pki) },
    get upstream() { return started(upstream) },
  }
}
