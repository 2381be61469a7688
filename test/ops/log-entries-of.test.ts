import { describe, expect, it } from 'vitest'
import { logEntriesOf } from '../support/process.js'

// A spawned gateway's logEntries(from) parses each output line once (test/support/process.ts):
// `from` must still be an output line index (what `gp.output.length` before an action gives),
// not an index among the log entries, and lines that come later must be read.
const line = (n: number): string => JSON.stringify({ level: 'info', msg: `m${n}` })

describe('logEntriesOf (a spawned gateway\'s parsed log lines)', () => {
  it('counts `from` in output lines, skips lines that are not JSON log lines, and reads lines that arrive later', () => {
    const output = ['starting (not JSON)', line(1), '{"not":"a log line"}', line(2)]
    const logEntries = logEntriesOf(output)
    expect(logEntries().map((e) => e.msg)).toEqual(['m1', 'm2'])
    // Output line 2 is the non-log line: the entries from it on are m2 alone (an index among entries would give []).
    expect(logEntries(2).map((e) => e.msg)).toEqual(['m2'])
    expect(logEntries(1).map((e) => e.msg)).toEqual(['m1', 'm2'])
    const from = output.length
    expect(logEntries(from)).toEqual([])
    output.push('a warning on stderr', line(3), line(4))
    expect(logEntries(from).map((e) => e.msg)).toEqual(['m3', 'm4'])
    expect(logEntries(from + 2).map((e) => e.msg)).toEqual(['m4'])
    expect(logEntries().map((e) => e.msg)).toEqual(['m1', 'm2', 'm3', 'm4'])
    expect(logEntries(-1).map((e) => e.msg)).toEqual(['m4'])
  })

  it('reads a late line at an index first asked for before it existed, and a line replaced anew', () => {
    const output: string[] = []
    const logEntries = logEntriesOf(output)
    expect(logEntries(1)).toEqual([])
    output.push(line(1), line(2))
    expect(logEntries(1).map((e) => e.msg)).toEqual(['m2'])
    output[1] = line(9)
    expect(logEntries().map((e) => e.msg)).toEqual(['m1', 'm9'])
  })

  it('gives the same frozen entries on every call, throws on a log line that does not parse each time it is read, and reads none before `from`', () => {
    const output = ['{"level":"info","msg":"cut', line(1)]
    const logEntries = logEntriesOf(output)
    expect(() => logEntries()).toThrow(SyntaxError)
    expect(() => logEntries()).toThrow(SyntaxError)
    const [first] = logEntries(1)
    expect(first).toEqual({ level: 'info', msg: 'm1' })
    expect(logEntries(1)[0]).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
  })
})
