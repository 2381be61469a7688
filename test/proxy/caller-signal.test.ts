/** The caller signal: one 'abort', seen both as an emitter (undici 7) and EventTarget-style (undici 8). */
import { describe, expect, it } from 'vitest'
import { createCallerSignal } from '../../src/proxy/caller-signal.js'

describe('createCallerSignal', () => {
  it('fires once for on() and addEventListener() listeners, and not for removed ones', () => {
    const { signal, abort } = createCallerSignal()
    const seen: string[] = []
    const removed = (): void => void seen.push('removed')
    signal.on('abort', () => seen.push('on'))
    ;(signal as unknown as EventTarget).addEventListener('abort', () => seen.push('target'))
    ;(signal as unknown as EventTarget).addEventListener('abort', removed)
    ;(signal as unknown as EventTarget).removeEventListener('abort', removed)
    abort(new Error('caller went away'))
    abort(new Error('again'))
    expect(seen).toEqual(['on', 'target'])
    expect(signal.aborted).toBe(true)
    expect((signal.reason as Error).message).toBe('caller went away')
  })
})
