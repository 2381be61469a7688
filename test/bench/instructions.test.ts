import { describe, expect, it } from 'vitest'
import { dumpTotal, instructionsMarkdown, type InstructionCount } from '../../bench/instructions.js'

// The head of a dump written by `callgrind_control -d` (valgrind 3.19).
const DUMP = ['# callgrind format', 'version: 1', 'creator: callgrind-3.19.0', 'pid: 13230', 'cmd:  /usr/bin/node gateway-bare.js gateway.yaml', 'part: 2', 'desc: Trigger: Client Request: window', 'events: Ir', 'summary: 825672600', '', 'ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6'].join('\n')

describe('instruction counts (bench/instructions.ts)', () => {
  it('reads the instruction total of a callgrind dump, and refuses a file without one', () => {
    expect(dumpTotal(DUMP)).toBe(825672600)
    expect(dumpTotal(DUMP.replace('summary:', 'totals:'))).toBe(825672600)
    expect(() => dumpTotal('# callgrind format\nevents: Ir\n')).toThrow(/no instruction total/)
  })

  it('prints each path against the floor with the same body, and what a 64 KiB body adds', () => {
    const counts: InstructionCount[] = [
      { path: 'undici_forwarder', body: 'empty', requests: 1500, instructionsPerRequest: 431_000 },
      { path: 'gateway_mtls', body: 'empty', requests: 1500, instructionsPerRequest: 608_000 },
      { path: 'undici_forwarder', body: '64k', requests: 500, instructionsPerRequest: 1_464_000 },
      { path: 'gateway_mtls', body: '64k', requests: 500, instructionsPerRequest: 1_376_000 },
    ]
    const md = instructionsMarkdown(counts)
    expect(md).toContain('| gateway_mtls | GET, empty | 608 k | 1.41 × | 1500 |')
    expect(md).toContain('| gateway_mtls | POST 64 KiB | 1376 k | 0.94 × | 500 |')
    expect(md).toContain('What a 64 KiB body adds (thousands of instructions per request):')
    expect(md).toContain('| undici_forwarder | 431 | 1464 | 1033 | 3.40 × | 1.00 × |')
    expect(md).toContain('| gateway_mtls | 608 | 1376 | 768 | 2.26 × | 0.74 × |')
  })

  it('has no floor ratio and no body table when the floor or the 64 KiB rows were not counted', () => {
    const md = instructionsMarkdown([{ path: 'gateway_mtls', body: 'empty', requests: 10, instructionsPerRequest: 600_000 }])
    expect(md).toContain('| gateway_mtls | GET, empty | 600 k | — | 10 |')
    expect(md).not.toContain('What a 64 KiB body adds')
  })
})
