import { describe, expect, it } from 'vitest'
import { profilerInflation, stageCosts, stageMarkdown, withUnprofiled, type CpuProfile, type StageColumn } from '../../bench/stages.js'

const column = (path: string, mainThreadUsPerReq: number, unprofiledMainUsPerReq?: number): StageColumn => ({
  path,
  body: 'empty',
  requests: 1000,
  cpuUsPerReq: mainThreadUsPerReq + 30,
  mainThreadUsPerReq,
  // Shares of the samples, and the profiled µs they come to.
  stages: [
    { stage: 'step sign_oauth1 (OAuth 1.0a)', share: 0.6, usPerReq: 0.6 * mainThreadUsPerReq },
    { stage: 'access log line', share: 0.4, usPerReq: 0.4 * mainThreadUsPerReq },
  ],
  ...(unprofiledMainUsPerReq !== undefined ? { unprofiledMainUsPerReq } : {}),
})

const row = (md: string, name: string): string[] => {
  const line = md.split('\n').find((l) => l.startsWith(`| ${name} |`))
  if (!line) throw new Error(`no row "${name}" in\n${md}`)
  return line.split('|').slice(2, -1).map((c) => c.trim())
}

describe('the stage table against the unprofiled rounds', () => {
  it('takes, per column, the median main thread of the rounds\' samples of the same path and body', () => {
    const samples = [
      { path: 'gateway_realistic', body: 'empty', mainCpuUsPerReq: 190 },
      { path: 'gateway_realistic', body: 'empty', mainCpuUsPerReq: 170 },
      { path: 'gateway_realistic', body: 'empty', mainCpuUsPerReq: 400 },
      { path: 'gateway_realistic', body: '64k', mainCpuUsPerReq: 999 },
      { path: 'gateway_mtls', body: 'empty', mainCpuUsPerReq: 999 },
      // A direct sample has no proxy; a result written before the field existed has none.
      { path: 'gateway_realistic', body: 'empty', mainCpuUsPerReq: null },
      { path: 'undici_forwarder', body: 'empty' },
    ]
    const [realistic, floor] = withUnprofiled([column('gateway_realistic', 260), column('undici_forwarder', 150)], samples)
    expect(realistic?.unprofiledMainUsPerReq).toBe(190)
    expect(floor?.unprofiledMainUsPerReq).toBeUndefined()
    expect(withUnprofiled([column('gateway_realistic', 260)], samples.slice(0, 2))[0]?.unprofiledMainUsPerReq).toBe(180)
  })

  it('scales a measured column to its unprofiled main thread, each stage keeping its share, and says by how much', () => {
    const md = stageMarkdown([column('gateway_realistic', 260, 130), column('undici_forwarder', 150, 150), column('gateway_connect', 300)])
    expect(md).toContain('| stage (µs/request, main thread, scaled to the rounds without the profiler) |')
    expect(row(md, 'step sign_oauth1 (OAuth 1.0a)')).toEqual(['78', '90', '180'])
    expect(row(md, 'access log line')).toEqual(['52', '60', '120'])
    expect(row(md, '**main thread total**')).toEqual(['130', '150', '300'])
    expect(row(md, 'main thread under the profiler')).toEqual(['260', '150', '300'])
    expect(row(md, "the profiler's inflation of the main thread")).toEqual(['2.00 ×', '1.00 ×', '— (not in the rounds: as profiled)'])
    expect(row(md, '**process CPU, profiled**')).toEqual(['290', '180', '330'])
  })

  it('without any figure from the rounds prints the profiled table as it was', () => {
    const md = stageMarkdown([column('gateway_realistic', 260)])
    expect(md).toContain('| stage (µs/request, main thread) |')
    expect(row(md, '**main thread total**')).toEqual(['260'])
    expect(md).not.toContain('inflation')
  })

  it('has no inflation without a usable unprofiled figure', () => {
    expect(profilerInflation({ mainThreadUsPerReq: 200, unprofiledMainUsPerReq: 100 })).toBe(2)
    expect(profilerInflation({ mainThreadUsPerReq: 200 })).toBeUndefined()
    expect(profilerInflation({ mainThreadUsPerReq: 200, unprofiledMainUsPerReq: 0 })).toBeUndefined()
    expect(profilerInflation({ mainThreadUsPerReq: 200, unprofiledMainUsPerReq: Number.NaN })).toBeUndefined()
  })
})

describe('which stage a sample is charged to', () => {
  /** A profile of one stack per sample, each given root first as [function, file] frames; one sample per stack, 1 µs apart. */
  function profileOf(stacks: readonly (readonly (readonly [string, string])[])[]): CpuProfile {
    const nodes: CpuProfile['nodes'] = [{ id: 1, callFrame: { functionName: '(root)', url: '' }, children: [] }]
    const samples: number[] = []
    for (const stack of stacks) {
      let parent = nodes[0] as CpuProfile['nodes'][number]
      for (const [functionName, url] of stack) {
        const node = { id: nodes.length + 1, callFrame: { functionName, url }, children: [] as number[] }
        nodes.push(node)
        parent.children?.push(node.id)
        parent = node
      }
      samples.push(parent.id)
    }
    return { nodes, startTime: 0, samples, timeDeltas: samples.map(() => 1) }
  }
  const dist = 'file:///gw/dist/src'
  const stageOf = (stack: readonly (readonly [string, string])[]): string | undefined => stageCosts(profileOf([stack]), 0, 10, 100)[0]?.stage

  it('charges node:http\'s writing of the answer to node:http, whether the floor\'s pipe or the gateway\'s relay calls it', () => {
    const HTTP = 'node:http server (inbound parse, response head/end)'
    const RELAY = 'response relay (upstream body → caller)'
    const socketWrite = [['Writable.uncork', 'node:internal/streams/writable'], ['writev', '']] as const
    const gatewayRelay = [['proxied', `${dist}/proxy/proxy-request.js`], ['relayAnswer', `${dist}/proxy/proxy-request.js`], ['relayTo', `${dist}/proxy/upstream-call.js`], ['endWhole', `${dist}/proxy/end-whole.js`]] as const
    const floorEnd = [['endReadableNT', 'node:internal/streams/readable'], ['emit', 'node:events'], ['onend', 'node:internal/streams/readable']] as const
    expect(stageOf([...gatewayRelay, ['end', 'node:_http_outgoing'], ...socketWrite])).toBe(HTTP)
    expect(stageOf([...floorEnd, ['end', 'node:_http_outgoing'], ...socketWrite])).toBe(HTTP)
    // The head: the gateway's (through its drain-aware writeHead) and the floor's handler's.
    const nodeHead = [['writeHead', 'node:_http_server'], ['_storeHeader', 'node:_http_outgoing']] as const
    expect(stageOf([['relayAnswer', `${dist}/proxy/proxy-request.js`], ['writeHead', `${dist}/proxy/drain-response.js`], ...nodeHead])).toBe(HTTP)
    expect(stageOf([['runMicrotasks', ''], ['', 'file:///gw/dist/bench/forwarder.js'], ...nodeHead])).toBe(HTTP)
    // A body chunk: the floor's through its BodyReadable and pipe, the gateway's from its handler.
    const undiciBody = [['readMore', 'file:///gw/node_modules/undici/lib/dispatcher/client-h1.js'], ['onBody', 'file:///gw/node_modules/undici/lib/dispatcher/client-h1.js']] as const
    const floorChunk = [...undiciBody, ['push', 'file:///gw/node_modules/undici/lib/api/readable.js'], ['ondata', 'node:internal/streams/readable']] as const
    expect(stageOf([...floorChunk, ['write', 'node:_http_outgoing'], ...socketWrite])).toBe(HTTP)
    expect(stageOf([...undiciBody, ['onResponseData', `${dist}/proxy/upstream-call.js`], ['write', 'node:_http_outgoing']])).toBe(HTTP)
    // What each handler does itself stays the relay's: the floor's RequestHandler and BodyReadable as the gateway's UpstreamCall.
    expect(stageOf(floorChunk)).toBe(RELAY)
    const head = [['readMore', 'file:///gw/node_modules/undici/lib/dispatcher/client-h1.js'], ['onHeadersComplete', 'file:///gw/node_modules/undici/lib/dispatcher/client-h1.js']] as const
    expect(stageOf([...head, ['onHeaders', 'file:///gw/node_modules/undici/lib/api/api-request.js'], ['BodyReadable', 'file:///gw/node_modules/undici/lib/api/readable.js']])).toBe(RELAY)
    expect(stageOf([...head, ['onResponseStart', `${dist}/proxy/upstream-call.js`]])).toBe(RELAY)
    // The header object undici builds for either is the parse's.
    expect(stageOf([...head, ['onHeaders', 'file:///gw/node_modules/undici/lib/api/api-request.js'], ['parseHeaders', 'file:///gw/node_modules/undici/lib/core/util.js']])).toBe('upstream response parse (undici llhttp)')
  })

  it('charges undici\'s work under the endpoint\'s pools to the upstream dispatch, not to routing', () => {
    const underPools = [['forwardUpstream', `${dist}/proxy/steps/forward.js`], ['dispatch', `${dist}/gateway/origin-pools.js`], ['_resume', 'file:///gw/node_modules/undici/lib/dispatcher/client.js']] as const
    expect(stageOf(underPools)).toBe('upstream dispatch (forward step + undici request write)')
    // The gateway's own policy code stays where it was.
    expect(stageOf([['forwardUpstream', `${dist}/proxy/steps/forward.js`], ['degradation', `${dist}/gateway/degraded-upstream.js`]])).toBe('routing, caller, TLS policy')
  })

  it('charges the access line\'s field serialisation to the access log line, not to ops glue', () => {
    expect(stageOf([['onDone', `${dist}/ops/ops.js`], ['access', `${dist}/ops/log.js`], ['accessFields', `${dist}/ops/access-line.js`]])).toBe('access log line')
    expect(stageOf([['onDone', `${dist}/ops/ops.js`]])).toBe('ops glue (onDone)')
  })

  it('charges what the signer hands node:crypto apart from the signer\'s own work', () => {
    const signer = [['run', `${dist}/proxy/steps/sign-oauth1.js`], ['computeSignature', `${dist}/oauth1/signature.js`]] as const
    expect(stageOf([...signer, ['createHmac', 'node:crypto'], ['Hmac', 'node:internal/crypto/hash']])).toBe('step sign_oauth1: node:crypto (HMAC, nonce bytes)')
    expect(stageOf([...signer, ['digest', 'node:internal/crypto/hash']])).toBe('step sign_oauth1: node:crypto (HMAC, nonce bytes)')
    expect(stageOf([['newNonce', `${dist}/oauth1/protocol-parameters.js`], ['randomFillSync', 'node:internal/crypto/random']])).toBe('step sign_oauth1: node:crypto (HMAC, nonce bytes)')
    expect(stageOf(signer)).toBe('step sign_oauth1 (OAuth 1.0a)')
    // node:crypto under a frame of its own stage stays there (an access line's hash is the log's).
    expect(stageOf([...signer, ['createHmac', 'node:crypto'], ['access', `${dist}/ops/log.js`]])).toBe('access log line')
  })
  it('charges a response head Node serialises to node:http, whether the gateway\'s listener or the floor\'s handler writes it', () => {
    const nodeHttp = 'node:http server (inbound parse, response head/end)'
    const relay = [['serveRequest', `${dist}/proxy/listener.js`], ['relayAnswer', `${dist}/proxy/proxy-request.js`], ['writeHead', `${dist}/proxy/drain-response.js`]] as const
    expect(stageOf([...relay, ['writeHead', 'node:_http_server'], ['_storeHeader', 'node:_http_outgoing']])).toBe(nodeHttp)
    expect(stageOf([['(anonymous)', 'file:///gw/dist/bench/forwarder.js'], ['writeHead', 'node:_http_server']])).toBe(nodeHttp)
    // The plumbing's and the handler's own work stays theirs; a head written under another stage stays that stage's.
    expect(stageOf(relay)).toBe('listener + pipeline plumbing')
    expect(stageOf([['serveRequest', `${dist}/proxy/listener.js`], ['addListener', 'node:events']])).toBe('listener + pipeline plumbing')
    expect(stageOf([['(anonymous)', 'file:///gw/dist/bench/forwarder.js'], ['pipe', 'node:internal/streams/readable']])).toBe('forwarder handler (floor)')
    // Under the relay too: node:http's writing of the answer is node:http's whoever calls it (the rule above).
    expect(stageOf([['onData', `${dist}/proxy/upstream-call.js`], ['writeHead', 'node:_http_server']])).toBe(nodeHttp)
    expect(stageOf([['onData', `${dist}/proxy/upstream-call.js`]])).toBe('response relay (upstream body → caller)')
  })
})
