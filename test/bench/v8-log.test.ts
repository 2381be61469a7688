import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileLines, summarizeV8Log, v8LogMarkdown } from '../../bench/v8-log.js'

const dir = mkdtempSync(join(tmpdir(), 'v8-log-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// The shapes of the lines V8 11 and 13 write with --log-ic and --log-maps (fields as V8 writes them).
const LOG = [
  'v8-version,11,3,244,8,-node.38,0',
  'code-creation,Script,10,86622,0x1000,269, file:///app/dist/bench/gateway-bare.js:1:1,0x9000,~',
  'code-creation,JS,10,90000,0x2000,100,byHost file:///app/dist/src/proxy/steps/match-endpoint.js:38:16,0x9100,*',
  'code-creation,JS,10,90001,0x3000,50,processTicksAndRejections node:internal/process/task_queues:67:35,0x9200,^',
  'LoadIC,0x2010,100,39,13,N,N,0xaa,host,,',
  // byHost's code moves: misses at its new address are still its.
  'code-move,0x2000,0x5000',
  'LoadIC,0x5010,101,39,13,N,N,0xab,host,,',
  'LoadIC,0x5020,102,39,19,N,N,0xac,port,,',
  'LoadIC,0x3005,103,75,31,N,N,0xad,callback,,',
  'StoreIC,0x7000,104,7,22,N,N,0xae,caller,LookupForWrite said false',
  'map,Transition,200,0x100,0x101,0x0,1,1,,a',
  'map,Transition,201,0x100,0x102,0x0,1,1,,b',
  'map,Transition,202,0x101,0x103,0x0,1,1,,c',
  'map,ReplaceDescriptors,300,0x100,0x201,0x0,126,24,CopyAddDescriptor,symbol("async_id_symbol" hash d43b166)',
  'map,ReplaceDescriptors,301,0x100,0x202,0x0,126,24,CopyAddDescriptor,symbol("async_id_symbol" hash d43b166)',
  'map,ReplaceDescriptors,302,0x100,0x203,0x0,54,38,CopyAddDescriptor,x-request-id',
  'map,ReplaceDescriptors,303,0x104,0x204,0x0,-1,-1,ForceSetPrototype,',
].join('\n')

describe('bench --v8-log summaries', () => {
  const s = summarizeV8Log(LOG)

  it('counts inline-cache misses by site, naming the function that holds the code (moves followed)', () => {
    expect(s.script).toBe('bench/gateway-bare.js')
    expect(s.icMisses).toBe(5)
    expect(s.icSites[0]).toEqual({ kind: 'LoadIC', fn: 'byHost dist/src/proxy/steps/match-endpoint.js:38:16', at: '39:13', key: 'host', misses: 2 })
    expect(s.icSites.map((x) => [x.fn.split(' ')[0], x.key, x.misses])).toEqual([
      ['byHost', 'host', 2],
      ['byHost', 'port', 1],
      ['processTicksAndRejections', 'callback', 1],
      ['?', 'caller', 1],
    ])
  })

  it('counts maps copied for want of a transition by key, and the most transitions from one map', () => {
    expect(s.copiesTotal).toBe(3)
    expect(s.copies).toEqual([
      { key: 'symbol("async_id_symbol" hash d43b166)', count: 2 },
      { key: 'x-request-id', count: 1 },
    ])
    expect(s.mostTransitions).toBe(2)
  })

  it('prints one table per process', () => {
    const ic = v8LogMarkdown('ic', [{ file: 'v8-1.log', summary: s }])
    expect(ic).toContain('bench/gateway-bare.js (v8-1.log): 5 inline-cache misses')
    expect(ic).toContain('| 2 | LoadIC | byHost dist/src/proxy/steps/match-endpoint.js:38:16 | 39:13 | host |')
    const maps = v8LogMarkdown('maps', [{ file: 'v8-1.log', summary: s }])
    expect(maps).toContain('most transitions from one map 2 (V8 keeps at most 1,536); 3 maps copied')
    expect(maps).toContain('| 2 | symbol("async_id_symbol" hash d43b166) |')
  })

  it('reads a file line by line across its 1 MiB reads, multi-byte characters included, to the same summary', () => {
    const file = join(dir, 'v8.log')
    // Filler lines push the log past several reads; "é" (2 bytes) lands on read boundaries somewhere.
    const filler = Array.from({ length: 40_000 }, (_, i) => `tick,é${i},${'x'.repeat(40)}`)
    const text = [...filler, LOG].join('\n')
    writeFileSync(file, text)
    const lines = [...fileLines(file)]
    expect(lines).toEqual(text.split('\n'))
    expect(summarizeV8Log(fileLines(file))).toEqual(summarizeV8Log(text))
  })

  it('reads an empty log as nothing', () => {
    expect(summarizeV8Log('')).toEqual({ script: '?', icMisses: 0, icSites: [], copies: [], copiesTotal: 0, mostTransitions: 0 })
  })
})
