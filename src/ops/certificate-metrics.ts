/** Each certificate's validity period (expiry and not-before) by endpoint and kind. */
import { Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'

/** Certificate kinds exported as validity gauges. */
export type CertificateKind = 'client' | 'intermediate' | 'root' | 'server_root' | 'interception_ca' | 'listener' | 'admin_listener'

/** One certificate's validity period, as the expiry and not-before gauges export it. */
export interface CertificateValidity {
  endpoint: string
  kind: CertificateKind
  notBefore: Date
  notAfter: Date
}

/** Registers the certificate validity gauges on `registers` and returns `setCertificateValidity`. */
export function createCertificateMetrics(registers: Registry[]): Pick<Metrics, 'setCertificateValidity'> {
  const expiry = new Gauge({ name: 'mtls_gateway_certificate_expiry_timestamp_seconds', help: 'Unix time a certificate expires, by endpoint and kind (earliest across tenant bundles).', labelNames: ['endpoint', 'kind'] as const, aggregator: 'min', registers })
  // A certificate not valid yet is as unusable as an expired one; its start is the signal.
  const notBefore = new Gauge({ name: 'mtls_gateway_certificate_not_before_timestamp_seconds', help: 'Unix time a certificate becomes valid, by endpoint and kind (latest across tenant bundles).', labelNames: ['endpoint', 'kind'] as const, aggregator: 'max', registers })
  return {
    setCertificateValidity(entries) {
      // Several intermediates or tenant bundles share a label set: the earliest expiry and the
      // latest start are the ones to alert on.
      const ends = new Map<string, { e: CertificateValidity; at: number }>()
      const starts = new Map<string, { e: CertificateValidity; at: number }>()
      for (const e of entries) {
        const key = `${e.endpoint}\0${e.kind}`
        const end = ends.get(key)
        if (!end || e.notAfter.getTime() < end.at) ends.set(key, { e, at: e.notAfter.getTime() })
        const start = starts.get(key)
        if (!start || e.notBefore.getTime() > start.at) starts.set(key, { e, at: e.notBefore.getTime() })
      }
      expiry.reset()
      notBefore.reset()
      for (const { e, at } of ends.values()) expiry.labels(e.endpoint, e.kind).set(Math.floor(at / 1000))
      for (const { e, at } of starts.values()) notBefore.labels(e.endpoint, e.kind).set(Math.floor(at / 1000))
    },
  }
}
