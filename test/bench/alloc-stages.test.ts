import { describe, expect, it } from 'vitest'
import { allocationMarkdown, allocationStages, type HeapNode } from '../../bench/stages.js'

const node = (functionName: string, url: string, selfSize: number, children: HeapNode[] = []): HeapNode => ({ callFrame: { functionName, url }, selfSize, children })
const SRC = 'file:///app/dist/src'

describe('allocation table', () => {
  // A call tree as V8's sampling heap profiler gives it: bytes on the frame that allocated them.
  const head = node('(root)', '', 0, [
    node('serveRequest', `${SRC}/proxy/listener.js`, 1000, [
      node('proxyRequest', `${SRC}/proxy/proxy-request.js`, 500, [
        node('sign', `${SRC}/oauth1/sign.js`, 3000, [node('toString', 'node:buffer', 200)]),
        node('write', `${SRC}/ops/log.js`, 800),
      ]),
    ]),
    node('parserOnIncoming', 'node:_http_server', 600),
    node('(V8 API)', '', 400),
  ])

  it('charges each frame\'s bytes to the innermost gateway stage on its stack, per request', () => {
    const rows = allocationStages({ head }, 100)
    const of = (stage: string): number | undefined => rows.find((r) => r.stage === stage)?.bytesPerReq
    // sign's own 3,000 and the 200 Node allocated under it.
    expect(of('step sign_oauth1 (OAuth 1.0a)')).toBe(32)
    expect(of('listener + pipeline plumbing')).toBe(15)
    expect(of('access log line')).toBe(8)
    expect(of('node:http server (inbound parse, response head/end)')).toBe(6)
    expect(of('other (timers, microtasks, runtime)')).toBe(4)
    // Every byte lands in exactly one stage; busiest first.
    expect(rows.reduce((t, r) => t + r.bytesPerReq, 0)).toBe(65)
    expect(rows.map((r) => r.bytesPerReq)).toEqual([...rows.map((r) => r.bytesPerReq)].sort((a, b) => b - a))
  })

  it('prints a row per stage and a column per path, in KiB, with the total', () => {
    const md = allocationMarkdown([
      { path: 'undici_forwarder', body: 'empty', requests: 10, stages: [{ stage: 'forwarder handler (floor)', bytesPerReq: 2048 }] },
      { path: 'gateway_realistic', body: 'empty', requests: 20, stages: [{ stage: 'step sign_oauth1 (OAuth 1.0a)', bytesPerReq: 3072 }, { stage: 'forwarder handler (floor)', bytesPerReq: 0 }] },
    ])
    expect(md.split('\n')).toEqual([
      '| stage (KiB allocated/request) | undici_forwarder empty | gateway_realistic empty |',
      '|---|--:|--:|',
      '| step sign_oauth1 (OAuth 1.0a) | 0.0 | 3.0 |',
      '| forwarder handler (floor) | 2.0 | 0.0 |',
      '| **total** | 2.0 | 3.0 |',
      '| requests in the window | 10 | 20 |',
      '',
    ])
  })
})
