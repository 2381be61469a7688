/**
 * `mtls_gateway_build_info{version,node,openssl} 1`: the usual "which build is this"
 * family, so dashboards can join on it and a rollout shows up as a label change.
 */
import { Gauge, type Registry } from 'prom-client'
import { gatewayVersion } from '../process/index.js'

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
