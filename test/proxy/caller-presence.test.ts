/** Caller presence: the watcher hears once, late watchers at once, and a replaced watcher never. */
import { describe, expect, it } from 'vitest'
import { Presence } from '../../src/proxy/caller-presence.js'

describe('Presence', () => {
  it('tells the current watcher once, with the first reason', () => {
    const p = new Presence()
    const seen: string[] = []
    p.onGone(() => seen.push('replaced'))
    p.onGone((r) => seen.push(`current: ${r.message}`))
    expect(p.gone).toBe(false)
    p.leave(new Error('caller went away'))
    p.leave(new Error('again'))
    expect(seen).toEqual(['current: caller went away'])
    expect(p.gone).toBe(true)
  })

  it('tells a watcher that arrives after the caller left at once', () => {
    const p = new Presence()
    p.leave(new Error('gone before the call'))
    const seen: string[] = []
    p.onGone((r) => seen.push(r.message))
    expect(seen).toEqual(['gone before the call'])
  })
})
