/**
 * `mtls_gateway_build_info{version,node,openssl} 1`: the usual "which build is this"
 * family, so dashboards can join on it and a rollout shows up as a label change.
 */
import { readFileSync } from 'node:fs'
import { Gauge, type Registry } from 'prom-client'

/** The gateway's version from its package.json (dist/src/ops → the package root), else "unknown". */
export function gatewayVersion(): string {
  for (const up of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'mtls-gateway' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // Not there from this layout (tests run the sources, the image runs dist/): try the next.
    }
  }
  return 'unknown'
}

/** Registers the build-info gauge (constant 1; every worker reports the same labels). */
export function registerBuildInfo(registry: Registry): void {
  const info = new Gauge({
    name: 'mtls_gateway_build_info',
    help: 'Always 1; the labels say which gateway version runs on which Node.js and OpenSSL.',
    labelNames: ['version', 'node', 'openssl'] as const,
    aggregator: 'max',
    registers: [registry],
  })
  info.labels(gatewayVersion(), process.versions.node, process.versions.openssl ?? 'none').set(1)
}
