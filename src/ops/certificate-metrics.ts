/** Each certificate's validity period (expiry and not-before) by endpoint and kind. */
import { Gauge, type Registry } from 'prom-client'
import type { Metrics } from './metrics.js'

/** Certificate kinds exported as validity gauges. */
export type CertificateKind = 'client' | 'intermediate' | 'root' | 'server_root' | 'server_root_in_use' | 'interception_ca' | 'listener' | 'admin_listener'

/** One certificate's validity period, as the expiry and not-before gauges export it. */
export interface CertificateValidity {
  endpoint: string
  kind: CertificateKind
  notBefore: Date
  notAfter: Date
}

/** When a TLS file besides the bundles starts and stops working by its dates, by its config key (`listen.tls.cert`, `store.redis.tls.ca`, …). */
export interface TlsFileValidity {
  key: string
  notBefore: Date
  notAfter: Date
}

/** Registers the certificate validity gauges on `registers` and returns `setCertificateValidity`, `watchCertificateValidity` and `setTlsFileValidity`. */
export function createCertificateMetrics(registers: Registry[]): Pick<Metrics, 'setCertificateValidity' | 'watchCertificateValidity' | 'setTlsFileValidity'> {
  // Read at each scrape: the adopted snapshot's fixed dates, and those that follow the traffic (the server root in use).
  let adopted: readonly CertificateValidity[] = []
  let watched: () => readonly CertificateValidity[] = () => []
  const entries = (): CertificateValidity[] => [...adopted, ...watched()]
  // Several intermediates or tenant bundles share a label set: the earliest expiry and the
  // latest start are the ones to alert on (and across workers, by the aggregator).
  const gauge = (name: string, help: string, aggregator: 'min' | 'max', at: (e: CertificateValidity) => number): void =>
    void new Gauge({
      name,
      help,
      labelNames: ['endpoint', 'kind'] as const,
      aggregator,
      registers,
      collect() {
        const pick = new Map<string, { e: CertificateValidity; at: number }>()
        for (const e of entries()) {
          const key = `${e.endpoint}\0${e.kind}`
          const seen = pick.get(key)
          if (!seen || (aggregator === 'min' ? at(e) < seen.at : at(e) > seen.at)) pick.set(key, { e, at: at(e) })
        }
        this.reset()
        for (const { e, at: ms } of pick.values()) this.labels(e.endpoint, e.kind).set(Math.floor(ms / 1000))
      },
    })
  gauge('mtls_gateway_certificate_expiry_timestamp_seconds', 'Unix time a certificate expires, by endpoint and kind (earliest across tenant bundles).', 'min', (e) => e.notAfter.getTime())
  // A certificate not valid yet is as unusable as an expired one; its start is the signal.
  gauge('mtls_gateway_certificate_not_before_timestamp_seconds', 'Unix time a certificate becomes valid, by endpoint and kind (latest across tenant bundles).', 'max', (e) => e.notBefore.getTime())
  return {
    setTlsFileValidity: createTlsFileValidityGauges(registers),
    setCertificateValidity(list) {
      adopted = list
    },
    watchCertificateValidity(read) {
      watched = read
    },
  }
}

/**
 * Registers mtls_gateway_tls_file_expiry_timestamp_seconds and
 * mtls_gateway_tls_file_not_before_timestamp_seconds on `registers` and returns their setter
 * (each adoption replaces every sample). Labelled by config key, a closed set of at most eight
 * (never the path, which may name a tenant or a secret's mount).
 */
function createTlsFileValidityGauges(registers: Registry[]): Metrics['setTlsFileValidity'] {
  let tlsFiles: readonly TlsFileValidity[] = []
  const gauge = (name: string, help: string, aggregator: 'min' | 'max', at: (e: TlsFileValidity) => Date): void =>
    void new Gauge({
      name,
      help,
      labelNames: ['key'] as const,
      aggregator,
      registers,
      collect() {
        this.reset()
        for (const e of tlsFiles) this.labels(e.key).set(Math.floor(at(e).getTime() / 1000))
      },
    })
  gauge('mtls_gateway_tls_file_expiry_timestamp_seconds', 'Unix time a TLS file besides the endpoint bundles stops working by its dates, by config key: a certificate file when its first certificate (leaf or intermediate) expires, a CA file when its last does.', 'min', (e) => e.notAfter)
  // A file not valid yet (a certificate issued for later, a clock ahead on the issuer) fails as an expired one does.
  gauge('mtls_gateway_tls_file_not_before_timestamp_seconds', 'Unix time a TLS file besides the endpoint bundles starts working by its dates, by config key: a certificate file when the last of its certificates (leaf or intermediate) becomes valid, a CA file when its first does.', 'max', (e) => e.notBefore)
  return (list) => {
    tlsFiles = list
  }
}
