import { randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SealError, createSealer, parseSealKey } from '../../src/store/index.js'

const k1 = { id: 'k1', key: randomBytes(32) }
const k2 = { id: 'k2', key: randomBytes(32) }

function flip(sealed: string, part: number): string {
  const parts = sealed.split('.')
  const bytes = Buffer.from(parts[part] ?? '', 'base64url')
  bytes[0] = (bytes[0] ?? 0) ^ 1
  parts[part] = bytes.toString('base64url')
  return parts.join('.')
}

describe('createSealer', () => {
  it('seals into v1.<kid>.<iv>.<ct>.<tag> with a fresh 12-byte IV and opens it back', () => {
    const s = createSealer([k1], 'k1')
    const a = s.seal('tokenSecret-123', 'rt:abc')
    const b = s.seal('tokenSecret-123', 'rt:abc')
    expect(a).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/)
    expect(a).not.toBe(b)
    expect(a).not.toContain('tokenSecret')
    expect(s.open(a, 'rt:abc')).toBe('tokenSecret-123')
    expect(s.keyIdOf(a)).toBe('k1')
    expect(s.open(s.seal(''), undefined)).toBe('')
  })

  it('round-trips any text and AAD (property)', () => {
    const s = createSealer([k1], 'k1')
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.option(fc.string(), { nil: undefined }), (text, aad) => {
        expect(s.open(s.seal(text, aad), aad)).toBe(text)
      }),
      { numRuns: 300 },
    )
  })

  it('rotation: old records still open, new seals use the active key', () => {
    const old = createSealer([k1], 'k1').seal('from before', 'a')
    const rotated = createSealer([k1, k2], 'k2')
    expect(rotated.activeId).toBe('k2')
    expect(rotated.open(old, 'a')).toBe('from before')
    const fresh = rotated.seal('after', 'a')
    expect(rotated.keyIdOf(fresh)).toBe('k2')
    // Once k1 is retired, its records fail loudly, naming the key.
    expect(() => createSealer([k2], 'k2').open(old, 'a')).toThrow('sealed with key "k1", which is not configured')
  })

  it('an unknown key id is a SealError naming the key', () => {
    const sealed = createSealer([k2], 'k2').seal('x')
    let error: unknown
    try {
      createSealer([k1], 'k1').open(sealed)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(SealError)
    expect((error as SealError).code).toBe('seal_unknown_key')
    expect((error as Error).message).toBe('sealed with key "k2", which is not configured')
  })

  it('tampering with IV, ciphertext, tag or key id fails authentication, never returns garbage', () => {
    const s = createSealer([k1, k2], 'k1')
    const sealed = s.seal('the secret value', 'key:1')
    for (const part of [2, 3, 4]) {
      expect(() => s.open(flip(sealed, part), 'key:1')).toThrow(/failed authentication/)
    }
    // Same bytes presented as sealed under the other key.
    expect(() => s.open(sealed.replace(/^v1\.k1\./, 'v1.k2.'), 'key:1')).toThrow(/failed authentication/)
    // Truncated ciphertext.
    const parts = sealed.split('.')
    parts[3] = (parts[3] ?? '').slice(0, 4)
    expect(() => s.open(parts.join('.'), 'key:1')).toThrow(SealError)
  })

  it('a value moved to another store key (AAD) fails', () => {
    const s = createSealer([k1], 'k1')
    const sealed = s.seal('secret', 'user:alice')
    expect(() => s.open(sealed, 'user:mallory')).toThrow(/failed authentication.*another store key/)
    expect(() => s.open(sealed)).toThrow(SealError)
  })

  it('malformed input is a clear SealError', () => {
    const s = createSealer([k1], 'k1')
    for (const bad of ['', 'plain text', 'v1.k1.a.b', 'v2.k1.AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA', 'v1.k1.!!.AA.AA', 'v1.k1.AAAA.AA.AAAA']) {
      expect(() => s.open(bad)).toThrow(SealError)
    }
  })

  it('validates its keys and never exposes them', () => {
    expect(() => createSealer([k1], 'k9')).toThrow('active seal key "k9" is not among the configured keys')
    expect(() => createSealer([k1, { ...k2, id: 'k1' }], 'k1')).toThrow(/configured twice/)
    expect(() => createSealer([{ id: 'k.1', key: k1.key }], 'k.1')).toThrow(/must be 1-64 characters/)
    expect(() => createSealer([{ id: 'short', key: randomBytes(16) }], 'short')).toThrow('seal key "short" must be 32 bytes, got 16')
    const s = createSealer([k1], 'k1')
    expect(inspect(s, { depth: 5 })).not.toContain(k1.key.toString('hex').slice(0, 16))
    expect(JSON.stringify(s)).not.toContain(k1.key.toString('base64').slice(0, 16))
  })
})

describe('parseSealKey', () => {
  const key = randomBytes(32)

  it('accepts hex, base64 and base64url, padded or not, with surrounding whitespace', () => {
    for (const text of [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      key.toString('base64'),
      key.toString('base64').replace(/=+$/, ''),
      key.toString('base64url'),
      `  ${key.toString('base64')}\n`,
    ]) {
      expect(parseSealKey(text).equals(key)).toBe(true)
    }
  })

  it('refuses wrong lengths and junk without echoing the text', () => {
    const cases: [string, RegExp][] = [
      [randomBytes(16).toString('hex'), /decodes to 16 bytes/],
      [randomBytes(31).toString('base64'), /decodes to 31 bytes/],
      [randomBytes(48).toString('base64'), /decodes to 48 bytes/],
      ['', /neither hex nor base64/],
      ['not a key at all!', /neither hex nor base64/],
    ]
    for (const [text, re] of cases) {
      let message = ''
      try {
        parseSealKey(text)
      } catch (e) {
        message = (e as Error).message
      }
      expect(message).toMatch(re)
      if (text.length > 0) expect(message).not.toContain(text.trim())
    }
  })
})
