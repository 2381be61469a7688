/**
 * Certificate facts of a compiled snapshot for metrics and /readyz, computed when a config is
 * adopted (start, reload) from the bundles the snapshot holds: a scrape never touches the disk.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Gateway } from '../gateway/index.js'
import { notAfter, notBefore, type Bundle } from '../tls/index.js'
import type { CertificateExpiry } from './metrics.js'

function bundlesOf(gateway: Gateway): { endpoint: string; bundle: Bundle }[] {
  const out: { endpoint: string; bundle: Bundle }[] = []
  for (const e of gateway.endpoints.values()) {
    out.push({ endpoint: e.name, bundle: e.bundle })
    // Tenant bundles are labelled by endpoint only: a tenant name is not a metric label.
    for (const t of e.tenantUpstreams?.values() ?? []) out.push({ endpoint: e.name, bundle: t.bundle })
  }
  return out
}

/** Client, intermediate and client-root expiry of every bundle in the snapshot, and the interception CA's. */
export function certificateExpiries(gateway: Gateway): CertificateExpiry[] {
  const out: CertificateExpiry[] = bundlesOf(gateway).flatMap(({ endpoint, bundle }) => [
    { endpoint, kind: 'client' as const, notAfter: notAfter(bundle.leaf) },
    ...bundle.chain.map((c) => ({ endpoint, kind: 'intermediate' as const, notAfter: notAfter(c) })),
    ...(bundle.clientRoot ? [{ endpoint, kind: 'root' as const, notAfter: notAfter(bundle.clientRoot) }] : []),
  ])
  const ca = gateway.config.interception?.caCert
  if (ca) {
    try {
      // Read once per config load, not per scrape. The CA serves every endpoint: an empty endpoint label.
      out.push({ endpoint: '', kind: 'interception_ca', notAfter: notAfter(new X509Certificate(readFileSync(ca))) })
    } catch {
      // Unreadable now: the minter reports it where it is used.
    }
  }
  return out
}

/** Why a snapshot's bundles cannot be used now (expired or not yet valid client certificates). */
export function bundleProblems(gateway: Gateway, now = new Date()): string[] {
  const problems: string[] = []
  for (const { endpoint, bundle } of bundlesOf(gateway)) {
    for (const cert of [bundle.leaf, ...bundle.chain]) {
      if (notAfter(cert) <= now) problems.push(`endpoint "${endpoint}": certificate "${cert.subject.replace(/\n/g, ', ')}" expired ${notAfter(cert).toISOString()}`)
      else if (notBefore(cert) > now) problems.push(`endpoint "${endpoint}": certificate "${cert.subject.replace(/\n/g, ', ')}" not valid before ${notBefore(cert).toISOString()}`)
    }
  }
  return problems
}
