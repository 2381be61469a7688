/**
 * Shared by the failure-throttle tests: source addresses on loopback (Linux routes all of
 * 127/8 to lo, so binding a client socket to 127.x.y.z is another client), an HTTP request
 * from one of them, and a scenario run inside one counting window.
 */
import { request as httpRequest } from 'node:http'
import { THROTTLE_WINDOW_MS } from '../../src/api/failure-throttle.js'
import { GatewayError } from '../../src/errors.js'
import type { Store, WeightedCounter } from '../../src/store/index.js'

/**
 * Addresses in many spellings, each with the group it must be counted in, written out by
 * hand (not by sourceKey): IPv4, IPv4-mapped (dotted, hex, upper case, zeros written out),
 * NAT64 and IPv4-compatible as their IPv4, IPv6 of one /64 in several spellings, another
 * /64, link-local per address whatever the zone, loopback.
 */
export const ADDRESSES: readonly (readonly [string, string])[] = [
  ['127.0.0.1', 'a'], ['::ffff:127.0.0.1', 'a'], ['::FFFF:7f00:1', 'a'], ['0:0:0:0:0:ffff:7f00:0001', 'a'],
  ['127.0.0.2', 'b'], ['10.0.0.1', 'c'], ['10.0.0.2', 'd'], ['::ffff:10.0.0.2', 'd'],
  ['2001:db8::1', 'e'], ['2001:DB8:0:0:ffff::2', 'e'], ['2001:db8:0:0:1:2:3:4', 'e'], ['2001:0db8:0000:0000::0.0.0.9', 'e'],
  ['2001:db8:0:1::1', 'f'], ['fe80::1%eth0', 'g'], ['FE80:0::1%2', 'g'], ['fe80::2', 'i'], ['fe80::2:0:0:1', 'j'], ['febf::1', 'k'],
  ['::1', 'h'], ['::ffff:0:127.0.0.1', 'h'], ['::', 'h'],
  ['64:ff9b::10.0.0.1', 'c'], ['64:FF9B::a00:2', 'd'], ['64:ff9b::10.0.0.3', 'l'], ['64:ff9b:1::10.0.0.3', 'm'],
  ['::10.0.0.1', 'c'], ['::0.0.0.2', 'n'],
]

let next = 0
/** A loopback source address no other scenario of this process used (127.31.x.y). */
export function freshLoopback(): string {
  next += 1
  return `127.31.${Math.floor(next / 250)}.${(next % 250) + 1}`
}

const windowNow = (): number => Math.floor(Date.now() / THROTTLE_WINDOW_MS)

/**
 * Runs `scenario` from a fresh source address; when the scenario straddled the start of a
 * new one-minute window (its counts split in two), runs it again from another address,
 * which then has the whole of the new window. The gateway shares this machine's clock.
 * A straddling run's failed expectation is retried too (split counts are what fail them);
 * a failure within one window is the scenario's own, and thrown.
 */
export async function inOneWindow<T>(scenario: (address: string) => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    const before = windowNow()
    const out = await scenario(freshLoopback()).then((value) => ({ value }), (error: unknown) => ({ error }))
    if (windowNow() === before) {
      if ('error' in out) throw out.error
      return out.value
    }
    if (tries >= 2) throw new Error('three scenarios in a row straddled a window: is the clock jumping?', 'error' in out ? { cause: out.error } : {})
  }
}

/** A reply. */
export interface ThrottleReply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
}

/** One request from `localAddress` to `url`. */
export function requestFrom(url: string, o: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<ThrottleReply> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false, ...(o.localAddress ? { localAddress: o.localAddress } : {}) }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(o.body)
  })
}

/** n copies of `status`. */
export const times = (n: number, status: number): number[] => Array<number>(n).fill(status)

/** A store whose every call rejects while `down`, as a store that does not answer. */
export class FlakyStore implements Store {
  down = false
  constructor(readonly inner: Store) {}
  #call<T>(fn: () => Promise<T>): Promise<T> {
    return this.down ? Promise.reject(new GatewayError('store_unavailable', 'the store did not answer (test)')) : fn()
  }
  get = (k: string) => this.#call(() => this.inner.get(k))
  put = (k: string, v: string, ttl?: number) => this.#call(() => this.inner.put(k, v, ttl))
  putIfAbsent = (k: string, v: string, ttl?: number) => this.#call(() => this.inner.putIfAbsent(k, v, ttl))
  increment = (k: string, by: number, ttl?: number) => this.#call(() => this.inner.increment(k, by, ttl))
  decrementIfPositive = (k: string) => this.#call(() => this.inner.decrementIfPositive(k))
  incrementIfUnder = (c: readonly WeightedCounter[], bound: number, ttl: number) => this.#call(() => this.inner.incrementIfUnder(c, bound, ttl))
  /** Its failures stand for a store that did not answer: a write may have landed all the same. */
  mayHaveLanded = (): boolean => true
  replaceIfUnchanged = (k: string, was: string, v: string | undefined, ttl?: number) => this.#call(() => this.inner.replaceIfUnchanged(k, was, v, ttl))
  delete = (k: string) => this.#call(() => this.inner.delete(k))
  take = (k: string) => this.#call(() => this.inner.take(k))
  keys = (p: string) => this.#call(() => this.inner.keys(p))
  ping = () => this.#call(() => this.inner.ping())
  close = () => this.inner.close()
}

/**
 * `inner` with every call's result passed through `seen` (its name, what it returned) on the way
 * back. Whether a failed call may have landed is `inner`'s answer, or `mayHaveLanded`'s (a `seen`
 * that loses replies of calls that landed stands for a networked store: say so).
 */
export function interceptStore(inner: Store, seen: (method: string, result: unknown) => unknown, mayHaveLanded = (failure: unknown): boolean => inner.mayHaveLanded(failure)): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'mayHaveLanded') return mayHaveLanded
      const v = Reflect.get(target, prop, receiver) as unknown
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => seen(String(prop), (v as (...a: unknown[]) => unknown).apply(target, args))
    },
  })
}
