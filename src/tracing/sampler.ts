/**
 * The sampler: parent-based (a caller's sampled flag wins) over a trace-id ratio read from the
 * config snapshot at each decision, so a reload changes the ratio without a restart.
 */
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api'
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base'
import type { TracingConfig } from '../config/index.js'

/** Reads the sampler settings in force (the current snapshot's). */
export type SamplerSettings = () => TracingConfig['sampler']

/** A root sampler whose ratio follows the snapshot; rebuilt only when the ratio changes. */
function ratioSampler(settings: SamplerSettings): Sampler {
  let ratio = Number.NaN
  let inner: Sampler = new AlwaysOnSampler()
  const current = (): Sampler => {
    const r = settings().ratio
    if (r !== ratio) {
      ratio = r
      inner = new TraceIdRatioBasedSampler(r)
    }
    return inner
  }
  return {
    shouldSample: (context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult =>
      current().shouldSample(context, traceId, name, kind, attributes, links),
    toString: () => `TraceIdRatio{${ratio}}(from config)`,
  }
}

/** The gateway's sampler: ParentBased(ratio) or, with parentBased off, the ratio alone. */
export function createSampler(settings: SamplerSettings): Sampler {
  const root = ratioSampler(settings)
  const parentBased = new ParentBasedSampler({ root, remoteParentNotSampled: new AlwaysOffSampler() })
  return {
    shouldSample: (...args: Parameters<Sampler['shouldSample']>): SamplingResult => (settings().parentBased ? parentBased : root).shouldSample(...args),
    toString: () => 'mtls-gateway sampler',
  }
}
