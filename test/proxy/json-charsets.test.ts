/**
 * A JSON body that payload fields are set in, sent with a Content-Type naming a charset other than
 * UTF-8 or an ASCII one, is refused (400): the gateway parses and re-serialises it as UTF-8, while
 * Spring's Jackson converter reads JSON in a non-Unicode charset through that charset's decoder.
 * In Shift_JIS, the backslash JSON.stringify writes to escape a caller's `\` right after `ぃ`
 * (UTF-8 E3 81 83) is the second byte of the kanji 0x835C, the caller's string stays open past the
 * gateway's closing quote, and Jackson (trailing tokens allowed, its default) stops at the first
 * whole object: the gateway's appended `acct` never reached the backend. The backend here decodes
 * by charset and reads the first whole JSON value, as Spring + Jackson do; the same bytes are also
 * given to real Jackson when a JDK and Jackson are on the machine. A JSON body that is not UTF-8 at
 * all (a raw Latin-1 `é`) is refused where the gateway re-writes it, rather than sent with U+FFFD.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GatewayError } from '../../src/errors.js'
import { setJsonFields } from '../../src/proxy/steps/json-payload.js'
import { startAcctFieldGateway, type AcctFieldGateway } from '../support/acct-field-gateway.js'
import { send } from '../support/gateway.js'

let g: AcctFieldGateway
let received: Buffer | undefined

/** The first whole JSON value of `text`, the rest ignored (Jackson's default: FAIL_ON_TRAILING_TOKENS off). */
function firstJsonValue(text: string): unknown {
  for (let end = 1; end <= text.length; end++) {
    try {
      return JSON.parse(text.slice(0, end))
    } catch {
      // not a whole value yet
    }
  }
  throw new SyntaxError('no JSON value')
}

/** Spring's AbstractJackson2HttpMessageConverter for a non-Unicode charset: decode by it, then Jackson. */
function springBackend(req: IncomingMessage, res: ServerResponse): void {
  const charset = /charset="?([\w-]+)/i.exec(req.headers['content-type'] ?? '')?.[1] ?? 'utf-8'
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    received = Buffer.concat(chunks)
    let acct: unknown = 'unreadable'
    try {
      acct = (firstJsonValue(new TextDecoder(charset).decode(received)) as Record<string, unknown>).acct ?? 'absent'
    } catch {
      // a body the backend cannot read at all
    }
    const text = JSON.stringify({ acct })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
}

/** The caller's object: its value `ぃ\` and key "," make the Shift_JIS reading end before the gateway's key. */
const SMUGGLING_BODY = JSON.stringify({ k1: 'ぃ\\', ',': ':1}' })

beforeAll(async () => {
  g = await startAcctFieldGateway(springBackend)
})

afterAll(async () => {
  await g?.close()
})

const post = async (body: string, contentType: string) =>
  send(g.gw.url, '/proxy/payload/x', { method: 'POST', body, headers: { 'proxy-authorization': `Bearer ${await g.bearer()}`, 'content-type': contentType } })

describe('JSON bodies with payload fields in other charsets', () => {
  it.each(['Shift_JIS', 'shift_jis', '"Shift_JIS"', 'big5', 'gbk', 'EUC-JP', 'utf-8; charset=shift_jis'])('charset=%s: refused with 400, nothing sent', async (charset) => {
    received = undefined
    const r = await post(SMUGGLING_BODY, `application/json; charset=${charset}`)
    expect(r.status, r.text).toBe(400)
    expect(r.text).toMatch(/endpoint \\"payload\\" sets payload fields, and the JSON body's Content-Type .* names a charset the gateway does not read JSON in: send it as UTF-8/)
    expect(received).toBeUndefined()
  })

  it.each(['utf-8', 'UTF-8', '"utf-8"', 'ISO-8859-1'])('charset=%s passes: the backend reads the gateway\'s value', async (charset) => {
    const r = await post(SMUGGLING_BODY, `application/json; charset=${charset}`)
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ acct: unknown }>().acct).toBe('42')
  })

  // SMUGGLING_BODY's raw ぃ is no US-ASCII: refused (json-injected-values.test.ts); escaped, it passes.
  it('charset=us-ascii passes with the caller\'s ぃ escaped: the backend reads the gateway\'s value', async () => {
    const r = await post(SMUGGLING_BODY.replace('ぃ', '\\u3043'), 'application/json; charset=us-ascii')
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ acct: unknown }>().acct).toBe('42')
  })

  it('without a charset the body passes as before', async () => {
    const r = await post(SMUGGLING_BODY, 'application/json')
    expect(r.status, r.text).toBe(200)
    expect(r.json<{ acct: unknown }>().acct).toBe('42')
  })
})

// The model's reading checked against the real thing: Java's Shift_JIS decoder and Jackson.
const JAR_ROOT = '/root/.m2/repository/com/fasterxml/jackson/core'
/** The versions of a Jackson artifact whose jar is in the local Maven repository, newest first. */
function jarVersions(artifact: string): string[] {
  const dir = join(JAR_ROOT, artifact)
  if (!existsSync(dir)) return []
  const newest = (a: string, b: string): number => b.localeCompare(a, 'en', { numeric: true })
  return readdirSync(dir).filter((v) => existsSync(join(dir, v, `${artifact}-${v}.jar`))).sort(newest)
}
const jarOf = (artifact: string, v: string): string => join(JAR_ROOT, artifact, v, `${artifact}-${v}.jar`)
/** databind and core of one version, and any annotations jar; empty when there are none. */
function jars(): string[] {
  const core = new Set(jarVersions('jackson-core'))
  const v = jarVersions('jackson-databind').find((d) => core.has(d))
  const annotations = jarVersions('jackson-annotations')[0]
  return v === undefined || annotations === undefined ? [] : [jarOf('jackson-databind', v), jarOf('jackson-core', v), jarOf('jackson-annotations', annotations)]
}
const haveJackson = (): boolean => {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' })
  } catch {
    return false
  }
  return jars().length > 0
}

describe.skipIf(!haveJackson())('the Shift_JIS reading, by real Jackson', () => {
  it('drops the key appended after the caller\'s object, as the model does', () => {
    const gatewayOut = JSON.stringify(Object.assign(JSON.parse(SMUGGLING_BODY) as object, { acct: '42' }))
    const dir = mkdtempSync(join(tmpdir(), 'json-charset-'))
    try {
      writeFileSync(join(dir, 'body.json'), gatewayOut)
      writeFileSync(join(dir, 'Spring.java'), `import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.*; import java.nio.charset.Charset; import java.nio.file.*;
public class Spring { public static void main(String[] a) throws Exception {
  for (int i = 1; i < a.length; i++) {
    Reader r = new InputStreamReader(new ByteArrayInputStream(Files.readAllBytes(Path.of(a[0]))), Charset.forName(a[i]));
    System.out.println(a[i] + " " + new ObjectMapper().readTree(r).has("acct")); } } }`)
      // One JVM for both readings: starting one is the slow part.
      const out = execFileSync('java', ['-cp', jars().join(':'), join(dir, 'Spring.java'), join(dir, 'body.json'), 'Shift_JIS', 'UTF-8'], { encoding: 'utf8' })
      expect(out.trim().split('\n')).toEqual(['Shift_JIS false', 'UTF-8 true'])
      expect((firstJsonValue(new TextDecoder('shift_jis').decode(Buffer.from(gatewayOut))) as Record<string, unknown>).acct).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('a JSON body the gateway re-writes', () => {
  const FIELD = [{ key: 'acct', value: '42' }]
  it('keeps the caller\'s string bytes exactly, or is refused when they are not UTF-8 (seeded)', () => {
    // Bytes inside a JSON string: no quote, backslash or control character, anything else (invalid UTF-8 too).
    const inner = fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a.filter((b) => b >= 0x20 && b !== 0x22 && b !== 0x5c)))
    fc.assert(
      fc.property(inner, fc.boolean(), (bytes, asPayload) => {
        const raw = Buffer.concat([Buffer.from('{"name":"'), bytes, Buffer.from('","ACCT":"victim"}')])
        let out: Buffer
        try {
          out = asPayload ? setJsonFields(raw, FIELD) : setJsonFields(raw, [], [['acct']])
        } catch (err) {
          expect(err).toBeInstanceOf(GatewayError)
          expect((err as GatewayError).message).toMatch(/the request body is not valid UTF-8/)
          // Refused only for bytes that are not UTF-8.
          expect(Buffer.from(bytes.toString('utf8')).equals(bytes)).toBe(false)
          return
        }
        expect(out.includes(Buffer.concat([Buffer.from('{"name":"'), bytes, Buffer.from('"')]))).toBe(true)
      }),
      { seed: 20261207, numRuns: 2000 },
    )
  })
})
