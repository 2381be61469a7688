/**
 * The batching sink encodes each line of a batch straight into the write's buffer (batching-sink.ts,
 * #takeAll) instead of encoding the batch joined into one string. Over generated lines, lone and
 * paired surrogates included (half a pair at a line's end pairs with the next line's start in the
 * joined text), and deferred lines among plain ones, what reaches the file is byte for byte what
 * encoding the joined text gives.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLineSink } from '../../src/ops/log-sink.js'

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const special = fc.constantFrom('\n', '"', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d\ude00', 'é', '✓', 'x')
const text = fc.oneof(fc.string({ unit: codeUnit, maxLength: 30 }), fc.string({ unit: special, maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
const part = fc.record({ line: text, deferred: fc.boolean() })

describe('log line sink bytes', () => {
  it('writes a batch exactly as encoding its lines joined into one string would', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-sink-bytes-'))
    try {
      fc.assert(
        fc.property(fc.array(part, { maxLength: 40 }), (parts) => {
          const file = join(dir, 'out.log')
          const fd = openSync(file, 'w')
          try {
            // minLength beyond the batch: nothing is written before the synchronous flush, which takes every line at once.
            const sink = createLineSink({ fd, minLength: 1 << 30, periodMs: 60_000 })
            for (const p of parts) p.deferred ? sink.writeDeferred(() => p.line) : sink.write(p.line)
            expect(sink.flushSync()).toBe(true)
            void sink.end()
          } finally {
            closeSync(fd)
          }
          expect(readFileSync(file).equals(Buffer.from(parts.map((p) => p.line).join(''), 'utf8'))).toBe(true)
        }),
        { numRuns: 300, examples: [[[{ line: 'a\ud800', deferred: true }, { line: '\udc00b', deferred: false }]]] },
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
