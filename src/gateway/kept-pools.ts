/**
 * Upstream pools kept across reloads. A reload hands an endpoint (or one of its tenant bundles)
 * the pool of the snapshot before, with its kept-alive connections and TLS session cache, only
 * when everything that shapes that pool is the same: the bytes of the bundle (key, certificates,
 * roots, CRLs), its TLS settings, the origins it may dial, `resolve`, `allowPrivate`, `via`,
 * timeouts and limits. Any difference builds a new pool, as a fresh start would, so a rotated
 * client certificate, a changed root, CRL or pin never rides a connection or session made under
 * the old one. Envoy keeps an unchanged cluster across a configuration update the same way.
 *
 * Each snapshot holding a pool counts once; the last to close it closes the pool.
 */
import { createHash } from 'node:crypto'
import type { EndpointConfig, EndpointTlsConfig } from '../config/index.js'
import { presentedCertificates, type Bundle } from '../tls/index.js'
import type { EndpointDialUrls } from './endpoint-authority.js'
import type { Upstream } from './upstream.js'

/**
 * Which endpoint settings shape its pools (true) and which only the requests sent through them
 * (false). Every key of EndpointConfig is named: a setting added later fails to compile until it
 * is sorted here, so no new setting can be missed by the pool's key.
 */
const SHAPES_POOL = {
  name: true,
  index: false, // messages only
  url: true, // the origin, also in the dial URLs
  hosts: false, // forward-proxy matching, never what is dialled
  pathPrefix: false,
  resolve: true,
  allowPrivate: true,
  tls: false, // each bundle's own settings are keyed with it (`tls` or a tenant's)
  timeouts: true,
  connections: true,
  originPools: true,
  via: true,
  profile: false, // its token URLs are in the dial URLs
  fields: false,
  tenantHeader: false,
  tenants: false, // each tenant bundle is a pool of its own
} as const satisfies Record<keyof EndpointConfig, boolean>

/** The settings of `ep` that shape its pools, in SHAPES_POOL's order. */
function poolSettings(ep: EndpointConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, shapes] of Object.entries(SHAPES_POOL)) if (shapes) out[key] = ep[key as keyof EndpointConfig]
  return out
}

/**
 * The identity of one pool: a digest of everything it is built from. Equal keys build pools that
 * behave the same; the digest keeps the key material it covers out of the map.
 */
export function poolKey(ep: EndpointConfig, tls: EndpointTlsConfig, bundle: Bundle, dials: EndpointDialUrls, tenant?: string): string {
  const material = {
    key: bundle.keyPem,
    certificates: presentedCertificates(bundle).map((c) => c.raw.toString('base64')),
    roots: bundle.roots.map((c) => c.raw.toString('base64')),
    crls: bundle.crls.map((c) => c.pem),
  }
  const identity = JSON.stringify({ tenant: tenant ?? null, settings: poolSettings(ep), tls, dials, material })
  return createHash('sha256').update(identity).digest('base64')
}

/** The pools of a process's snapshots, by key, with how many snapshots hold each. */
export interface KeptPools {
  /** The pool of `key`, held once more (its close() lets go of this hold); `build` makes it when no snapshot holds one. */
  take(key: string, build: () => Upstream): Upstream
  /** Pools held now (tests, diagnostics). */
  readonly size: number
  /** Pools built so far (a compile's new ones are the difference over it). */
  readonly builds: number
}

/** Creates the keeper of one process (a start's and its reloads' compiles share it). */
export function createKeptPools(): KeptPools {
  const pools = new Map<string, { upstream: Upstream; holders: number }>()
  let builds = 0
  return {
    take(key, build) {
      let entry = pools.get(key)
      if (entry) entry.holders++
      else {
        pools.set(key, (entry = { upstream: build(), holders: 1 }))
        builds++
      }
      const held = entry
      const { dispatcher, dispatch, faults, refusal, pool, freshConnector } = held.upstream
      let released: Promise<void> | undefined
      // The snapshot's view: the same pool, whose close() lets go of this hold once.
      const close = (): Promise<void> =>
        (released ??= (() => {
          if (--held.holders > 0) return Promise.resolve()
          if (pools.get(key) === held) pools.delete(key)
          return held.upstream.close()
        })())
      return { dispatcher, dispatch, faults, refusal, pool, freshConnector, close }
    },
    get size() {
      return pools.size
    },
    get builds() {
      return builds
    },
  }
}
