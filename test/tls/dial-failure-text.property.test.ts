/**
 * describeDialFailure (a pass-through tunnel's failed dial, an upstream proxy's socket failure) says
 * the socket code once. The error table's words for running out of descriptors name the code
 * already (`out of file descriptors (EMFILE): cannot open a connection`), and the code was added
 * after them again: `… (EMFILE): cannot open a connection (EMFILE)`. Seeded property over every
 * errno name this Node knows, the table's other dial codes and generated ones: the code appears
 * exactly once, and a code the table knows keeps its own words.
 */
import { constants } from 'node:os'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeDialFailure } from '../../src/tls/handshake-errors.js'

/** Every errno name (EMFILE, ENFILE, ECONNREFUSED, …) and the table's dial codes that are no errno. */
const KNOWN = [...Object.keys(constants.errno), 'UND_ERR_SOCKET', 'ENOTFOUND', 'EAI_AGAIN']
const occurrences = (text: string, code: string): number => text.split(new RegExp(`(?<![A-Z0-9_])${code}(?![A-Z0-9_])`)).length - 1

describe('describeDialFailure says the code once', () => {
  it('out of descriptors: the table\'s words, the code once', () => {
    expect(describeDialFailure('EMFILE')).toEqual({ reason: 'fd_exhausted', text: 'out of file descriptors (EMFILE): cannot open a connection' })
    expect(describeDialFailure('ENFILE')).toEqual({ reason: 'fd_exhausted', text: 'system out of file descriptors (ENFILE): cannot open a connection' })
    expect(describeDialFailure('ECONNREFUSED')).toEqual({ reason: 'upstream_connect_refused', text: 'connection refused (ECONNREFUSED)' })
  })

  it('every code, known or generated: exactly once in the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...KNOWN), fc.stringMatching(/^E[A-Z0-9_]{2,14}$/)), (code) => {
        const { text } = describeDialFailure(code)
        expect(occurrences(text, code), text).toBe(1)
      }),
      { seed: 0xd1a1, numRuns: 400 },
    )
    for (const code of KNOWN) expect(occurrences(describeDialFailure(code).text, code), code).toBe(1)
  })
})
