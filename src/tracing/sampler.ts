/**
 * The sampler: parent-based (a caller's sampled flag wins) over a trace-id ratio read from the
 * config snapshot at each decision, so a reload changes the ratio without a restart. With
 * `parentBased: false` a caller's context decides nothing: not its sampled flag, nor its trace id
 * (the caller picks it, and the trace-id ratio passes any id whose hash is small), so a request
 * continuing a caller's trace is recorded on a random draw under the ratio. A request's
 * span is decided under the settings of the snapshot the request is served under, which its
 * context carries (withSamplerSettings); other spans under the settings in force.
 */
import { createContextKey, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api'
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base'
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

/** Records on a draw (in [0, 1)) under the ratio in force: for a caller's context, whose trace id the caller chose. */
function drawSampler(settings: SamplerSettings, draw: () => number): Sampler {
  return {
    shouldSample: (context: Context): SamplingResult => ({ decision: draw() < settingsIn(context, settings).ratio ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD }),
    toString: () => 'RatioDraw(from config)',
  }
}

/**
 * The gateway's sampler. parentBased: ParentBased(ratio), the caller's sampled flag wins. Off: the
 * ratio on a trace the gateway starts (its own random id), a draw under the ratio on a caller's;
 * either way a span below one of the gateway's own (a client span, a request inside a tunnel)
 * follows it, so a trace is never recorded in part.
 */
export function createSampler(settings: SamplerSettings, draw: () => number = Math.random): Sampler {
  const root = ratioSampler(settings)
  const parentBased = new ParentBasedSampler({ root, remoteParentNotSampled: new AlwaysOffSampler() })
  const drawn = drawSampler(settings, draw)
  const ratioOnly = new ParentBasedSampler({ root, remoteParentSampled: drawn, remoteParentNotSampled: drawn })
  return {
    shouldSample: (...args: Parameters<Sampler['shouldSample']>): SamplingResult => (settingsIn(args[0], settings).parentBased ? parentBased : ratioOnly).shouldSample(...args),
    toString: () => 'mtls-gateway sampler',
  }
}
