/**
 * A caller's address is read through callerAddress (src/proxy/caller-address.ts) only, so an IPv4
 * caller of a listener on `::` has one spelling in every place that names it (the access log,
 * X-Forwarded-For, refusals, capped-line summaries, the console's lines, throttles). A static
 * check over src/: no other `.remoteAddress` read but the request context's own copy (made by
 * callerAddress) and the upstream side's (the address the gateway dialled, not a caller's).
 */
import { describe, expect, it } from 'vitest'
import { linesMatching, srcFiles, type SourceFile } from '../support/source-reads.js'

/** A read of `.remoteAddress` but the pipeline context's `inbound.remoteAddress`. */
const READ = /(?<!inbound)\.remoteAddress\b/g
/** The reader, and files about upstream sockets (an endpoint's, the store's Redis, the connection test's). */
const EXEMPT = new Set(['proxy/caller-address.ts', 'ops/upstream-facts.ts', 'gateway/connect-info.ts', 'store/redis-connect-checks.ts', 'proxy/connection-test.ts'])

/** Every `file:line: text` reading `.remoteAddress` directly. */
const directReads = (files: readonly SourceFile[]): string[] => linesMatching(files, [READ])

describe('a caller address is read through callerAddress only', () => {
  it('the check sees a direct read and lets callerAddress and the context copy pass', () => {
    const file = (text: string): { path: string; text: string }[] => [{ path: 'x.ts', text }]
    expect(directReads(file('const a = req.socket.remoteAddress'))).toHaveLength(1)
    expect(directReads(file('refuseUnlessLocal((socket as Socket).remoteAddress, false)'))).toHaveLength(1)
    expect(directReads(file('const a = callerAddress(req.socket)'))).toEqual([])
    expect(directReads(file('refuseUnlessLocal(ctx.inbound.remoteAddress, false)'))).toEqual([])
  })

  it('no file in src/ reads one directly', () => {
    const files = srcFiles(EXEMPT)
    expect(files.length).toBeGreaterThan(50)
    expect(directReads(files)).toEqual([])
  })
})
