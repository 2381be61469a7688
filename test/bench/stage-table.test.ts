import { describe, expect, it } from 'vitest'
import { profilerInflation, stageMarkdown, withUnprofiled, type StageColumn } from '../../bench/stages.js'

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
