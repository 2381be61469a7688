/**
 * jose and the OAuth dance are imported when a config needs them (callers/jose.ts,
 * cli/lazy-dance.ts). An import that failed (a broken install) fails the requests that need the
 * module at once, without importing again per request, until the next reload that needs it: that
 * reload imports it again, so an operator who fixed the install reloads instead of restarting.
 * (The console's loader is tested end to end in lazy-load-failure.test.ts.)
 *
 * Fault injection: vi.doMock makes the module's import throw, then gives it back.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { FeatureFactory } from '../../src/cli/gateway-root.js'
import type { Gateway } from '../../src/gateway/index.js'

const DANCE = '../../src/dance/index.js'
const broken = (name: string) => (): never => {
  throw new Error(`injected: cannot load ${name}`)
}

/** What `p` failed with: vitest wraps a mock factory's error, as `cause`. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'no failure'
  } catch (e) {
    return String((e as Error).cause ?? e)
  }
}

afterEach(() => {
  vi.doUnmock('jose')
  vi.doUnmock(DANCE)
  vi.resetModules()
})

describe('a lazy import that failed', () => {
  it('jose: requests fail with it until a reload with caller apps imports it again', async () => {
    vi.resetModules()
    vi.doMock('jose', broken('jose'))
    const { jose, preloadJose } = await import('../../src/callers/jose.js')
    const apps = new Map([['bot', {}]])
    expect(await failure(preloadJose(apps))).toContain('injected: cannot load jose')
    vi.doMock('jose', () => ({ fixed: true }))
    expect(await failure(jose())).toContain('injected: cannot load jose')
    // A reload without apps needs no jose: it does not try.
    await preloadJose(new Map())
    expect(await failure(jose())).toContain('injected: cannot load jose')
    await preloadJose(apps)
    expect(await jose()).toMatchObject({ fixed: true })
  })

  it('the dance: its routes fail with it until a reload with profiles imports it again', async () => {
    vi.resetModules()
    vi.doMock(DANCE, broken('dance'))
    const { lazyOAuth1Feature } = await import('../../src/cli/lazy-dance.js')
    const withProfiles = (n: number): Gateway => ({ config: { profiles: Array(n).fill({}) } }) as unknown as Gateway
    const feature = await lazyOAuth1Feature({ ref: { current: withProfiles(0) } } as unknown as Parameters<FeatureFactory>[0])
    const route = (): Promise<boolean> => (feature.routes?.[0] as (...a: unknown[]) => Promise<boolean>)({}, {}, withProfiles(1), '/gateway/oauth1/start', new URL('http://gw/'))
    feature.onCompiled?.(withProfiles(1))
    expect(await failure(route())).toContain('injected: cannot load dance')
    vi.doMock(DANCE, () => ({ createOAuth1Feature: () => ({ routes: [async () => true] }) }))
    expect(await failure(route())).toContain('injected: cannot load dance')
    feature.onCompiled?.(withProfiles(0))
    expect(await failure(route())).toContain('injected: cannot load dance')
    feature.onCompiled?.(withProfiles(1))
    expect(await route()).toBe(true)
  })
})
