/**
 * The sampler: parent-based (a caller's sampled flag wins) over a trace-id ratio read from the
 * config snapshot at each decision, so a reload changes the ratio without a restart. A request's
 * span is decided under the settings of the snapshot the request is served under, which its
 * context carries (withSamplerSettings); other spans under the settings in force.
 */
import { createContextKey, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api'
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base'
import type { TracingConfig } from '../config/index.js'

/** `tracing.sampler` of one snapshot. */
export type SamplerConfig = TracingConfig['sampler']

/** Reads the sampler settings in force (the current snapshot's). */
export type SamplerSettings = () => SamplerConfig

const PINNED = createContextKey('mtls-gateway sampler settings')

/** `context` carrying the sampler settings its spans (a request's, and their children) are decided under; unchanged without them. */
export function withSamplerSettings(context: Context, settings: SamplerConfig | undefined): Context {
  return settings ? context.setValue(PINNED, settings) : context
}

/** The settings `context` carries, else those in force. */
const settingsIn = (context: Context, inForce: SamplerSettings): SamplerConfig => (context.getValue(PINNED) as SamplerConfig | undefined) ?? inForce()

/** A root sampler whose ratio follows the snapshot; rebuilt only when the ratio changes. */
function ratioSampler(settings: SamplerSettings): Sampler {
  let ratio = Number.NaN
  let inner: Sampler = new AlwaysOnSampler()
  const current = (context: Context): Sampler => {
    const r = settingsIn(context, settings).ratio
    if (r !== ratio) {
      ratio = r
      inner = new TraceIdRatioBasedSampler(r)
    }
    return inner
  }
  return {
    shouldSample: (context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult =>
      current(context).shouldSample(context, traceId, name, kind, attributes, links),
    toString: () => `TraceIdRatio{${ratio}}(from config)`,
  }
}

/** The gateway's sampler: ParentBased(ratio) or, with parentBased off, the ratio alone. */
export function createSampler(settings: SamplerSettings): Sampler {
  const root = ratioSampler(settings)
  const parentBased = new ParentBasedSampler({ root, remoteParentNotSampled: new AlwaysOffSampler() })
  return {
    shouldSample: (...args: Parameters<Sampler['shouldSample']>): SamplingResult => (settingsIn(args[0], settings).parentBased ? parentBased : root).shouldSample(...args),
    toString: () => 'mtls-gateway sampler',
  }
}
