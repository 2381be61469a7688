/**
 * The user, tenant, credential, host and console CSRF headers are read through singleHeader
 * (src/callers/header-text.ts), which refuses them sent twice: a read of one straight from a
 * request's parsed headers would take Node's guess ("a, b", or the first line) instead. A static
 * check over src/: whether such a header is there at all may be asked directly (a repeat is still
 * there); its value may not be read. The gateway's own outbound copy (ctx.outbound.headers) is not
 * the caller's request and is exempt. It sees direct reads, not a headers object passed on under
 * another name (those functions take a HeaderLines, whose raw lines only singleHeader counts).
 */
import { describe, expect, it } from 'vitest'
import { linesMatching, srcFiles, type SourceFile } from '../support/source-reads.js'

const COVERED = String.raw`(?:\.(?:host|authorization)\b|\[\s*['"](?:host|authorization|proxy-authorization|x-gateway-user|x-csrf-token)['"]\s*\]|\[\s*(?:USER_HEADER|[\w.]*tenantHeader)\s*\])`
/** `<something>.headers<covered>` not on the outbound copy and not a presence test. */
const READ = new RegExp(String.raw`(?<!outbound)\.headers${COVERED}(?!\s*[!=]==?\s*undefined)`, 'g')
/** `const { host, … } = <something>.headers` (not the outbound copy). */
const DESTRUCTURED = /\{[^}]*\b(?:host|authorization)\b[^}]*\}\s*=\s*[\w.]*(?<!outbound)\.headers\b/g
/** The reader itself. */
const EXEMPT = new Set(['callers/header-text.ts'])

/** Every `file:line: text` in src/ reading a covered header's value straight from parsed headers. */
const directReads = (files: readonly SourceFile[]): string[] => linesMatching(files, [READ, DESTRUCTURED])

describe('single-valued request headers are read once or not at all', () => {
  it('the check sees a direct read and lets a presence test, the outbound copy and singleHeader pass', () => {
    const file = (text: string): { path: string; text: string }[] => [{ path: 'x.ts', text }]
    expect(directReads(file("const a = req.headers.authorization ?? ''"))).toHaveLength(1)
    expect(directReads(file("const u = ctx.inbound.headers['x-gateway-user']"))).toHaveLength(1)
    expect(directReads(file('const t = ctx.inbound.headers[endpoint.config.tenantHeader]'))).toHaveLength(1)
    expect(directReads(file('const { host } = req.headers'))).toHaveLength(1)
    expect(directReads(file("return origin === `${scheme}://${req.headers.host ?? ''}`"))).toHaveLength(1)
    expect(directReads(file('if (req.headers.authorization === undefined) return'))).toEqual([])
    expect(directReads(file('const a = ctx.outbound.headers.authorization'))).toEqual([])
    expect(directReads(file("const h = singleHeader(req, 'host', 'Host')"))).toEqual([])
  })

  it('no file in src/ reads one directly', () => {
    const files = srcFiles(EXEMPT)
    expect(files.length).toBeGreaterThan(50)
    expect(directReads(files)).toEqual([])
  })
})
