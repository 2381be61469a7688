/**
 * The user, tenant, credential, host and console CSRF headers are read through singleHeader
 * (src/callers/header-text.ts), which refuses them sent twice: a read of one straight from a
 * request's parsed headers would take Node's guess ("a, b", or the first line) instead. A static
 * check over src/: whether such a header is there at all may be asked directly (a repeat is still
 * there); its value may not be read. The gateway's own outbound copy (ctx.outbound.headers) is not
 * the caller's request and is exempt. It sees direct reads, not a headers object passed on under
 * another name (those functions take a HeaderLines, whose raw lines only singleHeader counts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = join(import.meta.dirname, '..', '..', 'src')
const COVERED = String.raw`(?:\.(?:host|authorization)\b|\[\s*['"](?:host|authorization|proxy-authorization|x-gateway-user|x-csrf-token)['"]\s*\]|\[\s*(?:USER_HEADER|[\w.]*tenantHeader)\s*\])`
/** `<something>.headers<covered>` not on the outbound copy and not a presence test. */
const READ = new RegExp(String.raw`(?<!outbound)\.headers${COVERED}(?!\s*[!=]==?\s*undefined)`, 'g')
/** `const { host, … } = <something>.headers` (not the outbound copy). */
const DESTRUCTURED = /\{[^}]*\b(?:host|authorization)\b[^}]*\}\s*=\s*[\w.]*(?<!outbound)\.headers\b/g
/** The reader itself. */
const EXEMPT = new Set(['callers/header-text.ts'])

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []))
}

/** Every `file:line: text` in src/ reading a covered header's value straight from parsed headers. */
function directReads(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) =>
    text.split('\n').flatMap((line, i) => ([...line.matchAll(READ), ...line.matchAll(DESTRUCTURED)].length > 0 ? [`${path}:${i + 1}: ${line.trim()}`] : [])),
  )
}

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
    const files = sources(SRC)
      .map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }))
      .filter((f) => !EXEMPT.has(f.path))
    expect(files.length).toBeGreaterThan(50)
    expect(directReads(files)).toEqual([])
  })
})
