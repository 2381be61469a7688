/**
 * One trailing dot is the fully qualified spelling of the same host: `CONNECT api.partner.test.:443`
 * and `http://api.partner.test./x` find the endpoint configured as `api.partner.test`, as a Host
 * header inside a tunnel already did. Pure (nothing here dials): generated configurations of
 * distinct names (some written with a dot themselves, in an endpoint URL, a `hosts` entry or a
 * pass-through entry) and generated near misses of them. The matched entry is exactly the one a
 * hand-written reference names (letter case and one trailing dot aside, the same name and port)
 * and never another; two dots, a leading dot or a lone dot match nothing.
 * connect-trailing-dot.test.ts is the wire side (real curl, node:tls, access records).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { matchName } from '../../src/config/index.js'
import { hostKeys } from '../../src/gateway/index.js'
import type { EndpointConfig, InterceptionConfig } from '../../src/config/types.js'
import { parseAbsoluteForm, parseConnectTarget } from '../../src/proxy/request-target.js'
import { passThroughEntry } from '../../src/proxy/pass-through.js'

/** The rule, by hand: lower case, then exactly one trailing dot after a non-dot dropped. */
function reference(name: string): string {
  const lower = name.toLowerCase()
  return lower.length > 1 && lower.endsWith('.') && !lower.endsWith('..') ? lower.slice(0, -1) : lower
}

interface Entry { id: string; name: string; port: number; via: 'url' | 'hosts' | 'passThrough' }

// A letter first: WHATWG URL reads a name whose last label is a number as IPv4 (`a.1` is not a DNS name).
// `_` too: a configured name may hold one (`my_host.internal`), and CONNECT refused it where the forward proxy took it.
const label = fc.stringMatching(/^[a-z][a-z0-9_]{0,4}$/)
const name = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'))
const PORTS = [443, 8443]

/** Distinct configured names (by the rule), each maybe written with its own trailing dot. */
const entries = fc
  .uniqueArray(fc.tuple(name, fc.constantFrom(...PORTS), fc.boolean(), fc.constantFrom('url', 'hosts', 'passThrough') as fc.Arbitrary<Entry['via']>), { minLength: 1, maxLength: 5, selector: ([n, p]) => `${n}:${p}` })
  .map((list) => list.map(([n, port, dotted, via], i): Entry => ({ id: `e${i}`, name: dotted ? `${n}.` : n, port, via })))

/** A spelling near a configured name: letters in either case, dots before or after, a label changed. */
function spelled(base: string): fc.Arbitrary<string> {
  const bare = base.replace(/\.$/, '')
  return fc
    .tuple(fc.array(fc.boolean(), { minLength: bare.length, maxLength: bare.length }), fc.constantFrom('', '.', '.', '..', '...'), fc.constantFrom('', '', '', '.'), fc.constantFrom('', '', '', 'x', '.x'))
    .map(([upper, tail, lead, extra]) => lead + [...bare].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('') + extra + tail)
}

/** What each way in matches for `target` on `port`: the ids of the entries it finds (empty: refused). */
function matched(list: Entry[], target: string, port: number): { connect: string[]; forward: string[] } {
  const byHost = new Map<string, string[]>()
  for (const e of list.filter((x) => x.via !== 'passThrough')) {
    const ep = { url: e.via === 'url' ? `https://${e.name}:${e.port}` : 'https://192.0.2.1:1', hosts: e.via === 'hosts' ? [`${e.name}:${e.port}`] : [] } as unknown as EndpointConfig
    for (const key of hostKeys(ep)) byHost.set(key, [...(byHost.get(key) ?? []), e.id])
  }
  const t = parseConnectTarget(`${target}:${port}`)
  // As connect.ts: endpoints by authority, then the pass-through entry passThroughEntry finds (each carries its id).
  const passThroughs = list.filter((e) => e.via === 'passThrough').map((e) => ({ host: e.name, port: e.port, allowPrivate: false, connectTimeoutMs: 1, id: e.id }))
  const entry = t ? (passThroughEntry({ passThrough: passThroughs } as unknown as InterceptionConfig, t) as (typeof passThroughs)[number] | undefined) : undefined
  const connect = t ? [...(byHost.get(`${t.host}:${t.port}`) ?? []), ...(entry ? [entry.id] : [])] : []
  let forward: string[] = []
  try {
    const f = parseAbsoluteForm(`http://${target}:${port}/x`)
    forward = byHost.get(`${f.host}:${f.port ?? 443}`) ?? []
  } catch {
    forward = []
  }
  return { connect, forward }
}

describe('CONNECT and forward-proxy targets with a trailing dot', () => {
  it('seeded property: the matched entry is exactly the configured one (case, one trailing dot aside), never another', () => {
    const seen = { dotted: 0, refused: 0, other: 0 }
    fc.assert(
      fc.property(
        entries.chain((list) => fc.tuple(fc.constant(list), fc.constantFrom(...list).chain((e) => spelled(e.name)), fc.constantFrom(...PORTS))),
        ([list, target, port]) => {
          const want = list.filter((e) => reference(e.name) === reference(target) && e.port === port).map((e) => e.id)
          expect(want.length).toBeLessThanOrEqual(1)
          const got = matched(list, target, port)
          expect(got.connect, `CONNECT ${target}:${port}`).toEqual(want)
          const wantForward = want.filter((id) => list.find((e) => e.id === id)?.via !== 'passThrough')
          expect(got.forward, `http://${target}:${port}/x`).toEqual(wantForward)
          if (want.length === 1 && target.endsWith('.')) seen.dotted++
          else if (want.length === 0 && target.endsWith('..')) seen.refused++
          else if (want.length === 0) seen.other++
        },
      ),
      { seed: 0x2e2e, numRuns: 3000 },
    )
    expect(seen.dotted).toBeGreaterThan(200)
    expect(seen.refused).toBeGreaterThan(200)
    expect(seen.other).toBeGreaterThan(200)
  })

  it('examples', () => {
    expect(parseConnectTarget('api.partner.test.:443')).toEqual({ host: 'api.partner.test', port: 443 })
    expect(parseConnectTarget('API.Partner.Test.:8443')).toEqual({ host: 'api.partner.test', port: 8443 })
    expect(parseConnectTarget('127.0.0.1.:443')).toEqual({ host: '127.0.0.1', port: 443 })
    // Kept as written: they match no configured name.
    expect(parseConnectTarget('api.partner.test..:443')).toEqual({ host: 'api.partner.test..', port: 443 })
    expect(parseConnectTarget('.:443')).toEqual({ host: '.', port: 443 })
    expect(parseConnectTarget('.api.partner.test:443')).toEqual({ host: '.api.partner.test', port: 443 })
    expect(parseAbsoluteForm('http://api.partner.test./x').host).toBe('api.partner.test')
    expect(() => parseAbsoluteForm('http://api.partner.test../x')).toThrow(/not a valid host name/)
    expect(() => parseAbsoluteForm('http://./x')).toThrow(/not a valid host name/)
    expect(matchName('api.partner.test.:8443')).toBe('api.partner.test:8443')
    expect(matchName('::1')).toBe('::1')
    expect(hostKeys({ url: 'https://API.partner.test.:8443', hosts: ['other.test.', 'third.test.:9443', '[::1]:443'] } as unknown as EndpointConfig)).toEqual(['api.partner.test:8443', 'other.test:443', 'third.test:9443', '[::1]:443'])
  })
})
