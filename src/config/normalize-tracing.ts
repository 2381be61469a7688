/** The `tracing` section → TracingConfig, defaults taken from the schema (said once there). */
import { parseDuration } from './units.js'
import { obj, str, type Raw, type Report } from './normalize-util.js'
import { tracingSchema } from './schema-tracing.js'
import { checkOtlpEndpoint } from './link-urls.js'
import type { TracingConfig } from './types.js'

const P = tracingSchema.properties
const SAMPLER = P.sampler.properties
const OTLP = P.otlp.properties

/** Normalises `tracing`; relative TLS paths resolve against the config file. */
export function normalizeTracing(t: Raw, abs: (p: string) => string, report: Report): TracingConfig {
  const sampler = obj(t.sampler)
  const otlp = t.otlp === undefined ? undefined : obj(t.otlp)
  const tls = obj(otlp?.tls)
  if ((tls.cert === undefined) !== (tls.key === undefined)) report(['otlp', 'tls', tls.cert === undefined ? 'cert' : 'key'], 'is required with a client certificate (cert and key go together)')
  // OpenTelemetry's exporter throws on a timeout of 0 ms: `timeout: 0` (or `0.4ms`) passed `check`, and then the gateway did not start.
  if (otlp?.timeout !== undefined && parseDuration(otlp.timeout as string | number) < 1) report(['otlp', 'timeout'], `${String(otlp.timeout)} is less than 1ms: an export must be given some time (OpenTelemetry's exporter refuses 0)`)
  checkOtlpEndpoint(str(otlp?.endpoint), report)
  const file = (k: string): { [key: string]: string } => (str(tls[k]) === undefined ? {} : { [k]: abs(str(tls[k]) as string) })
  return {
    enabled: (t.enabled as boolean | undefined) ?? P.enabled.default,
    serviceName: str(t.serviceName) ?? P.serviceName.default,
    sampler: {
      ratio: (sampler.ratio as number | undefined) ?? SAMPLER.ratio.default,
      parentBased: (sampler.parentBased as boolean | undefined) ?? SAMPLER.parentBased.default,
    },
    ...(otlp
      ? {
          otlp: {
            endpoint: str(otlp.endpoint) as string,
            protocol: (str(otlp.protocol) as 'http/protobuf' | 'grpc' | undefined) ?? OTLP.protocol.default,
            headers: Object.fromEntries(Object.entries(obj(otlp.headers)).map(([k, v]) => [k, String(v)])),
            timeoutMs: parseDuration((otlp.timeout as string | number | undefined) ?? OTLP.timeout.default),
            tls: { ...file('ca'), ...file('cert'), ...file('key') },
          },
        }
      : {}),
  }
}
