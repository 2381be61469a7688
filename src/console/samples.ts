/**
 * Recent traffic for the charts and the endpoint table: the instance's counters (summed
 * over workers like /metrics) sampled every few seconds while someone uses the console,
 * kept for a few minutes. Rates are differences between samples, so a worker restart
 * (counters back to 0) shows as a gap, never as a negative rate.
 */
import { NO_ENDPOINT_LABEL, type WorkerMetrics } from '../ops/index.js'

const P = 'mtls_gateway_'
export const SAMPLE_EVERY_MS = 5000
const KEEP = 72

/** Counters at one instant. */
interface Sample {
  at: number
  /** endpoint → [requests, errors (4xx and 5xx)] */
  endpoints: Record<string, [number, number]>
  /** endpoint → handshake failure reason → count */
  handshakeFailures: Record<string, Record<string, number>>
}

/** One point of the charts: requests and errors per second. */
export interface RatePoint {
  at: number
  requests: number
  errors: number
}

/** An endpoint's recent rates (per second, over the kept window). */
export interface EndpointRates {
  requests: number
  errors: number
  failuresByReason: Record<string, number>
}

function read(metrics: WorkerMetrics, at: number): Sample {
  const s: Sample = { at, endpoints: {}, handshakeFailures: {} }
  for (const m of metrics) {
    if (m.name === `${P}requests_total`) {
      for (const v of m.values) {
        const ep = String(v.labels.endpoint ?? NO_ENDPOINT_LABEL)
        const row = (s.endpoints[ep] ??= [0, 0])
        row[0] += v.value
        if (/^[45]xx$/.test(String(v.labels.status_class))) row[1] += v.value
      }
    } else if (m.name === `${P}upstream_tls_handshake_failures_total`) {
      for (const v of m.values) {
        const byReason = (s.handshakeFailures[String(v.labels.endpoint ?? NO_ENDPOINT_LABEL)] ??= {})
        const reason = String(v.labels.reason ?? 'unknown')
        byReason[reason] = (byReason[reason] ?? 0) + v.value
      }
    }
  }
  return s
}

const sum = (s: Sample, i: 0 | 1): number => Object.values(s.endpoints).reduce((a, r) => a + r[i], 0)
const rate = (d: number, ms: number): number => (d >= 0 && ms > 0 ? (d * 1000) / ms : 0)
/** The increase of column `i` from `prev` to `s`, endpoint by endpoint: one whose counts went down or away (a reload removed it) takes nothing from the others'. */
const increase = (s: Sample, prev: Sample, i: 0 | 1): number => Object.entries(s.endpoints).reduce((a, [ep, r]) => a + Math.max(0, r[i] - (prev.endpoints[ep]?.[i] ?? 0)), 0)

/** Samples the instance's counters while the console is in use. */
export interface Sampler {
  /** Takes a sample now if the last is older than the period (call on each console request). */
  touch(): Promise<void>
  series(): RatePoint[]
  endpointRates(): Record<string, EndpointRates>
  /** Stops background sampling. */
  stop(): void
}

/** A sampler over `metrics` (AdminFacts.metrics). */
export function createSampler(metrics: () => Promise<WorkerMetrics>, now: () => number = Date.now): Sampler {
  const samples: Sample[] = []
  let timer: NodeJS.Timeout | undefined
  let lastUse = 0
  let stopped = false
  const take = async (): Promise<void> => {
    samples.push(read(await metrics(), now()))
    if (samples.length > KEEP) samples.shift()
  }
  // Sample in the background for as long as the window lasts after the last console request.
  const tick = (): void => {
    if (stopped || now() - lastUse > KEEP * SAMPLE_EVERY_MS) return void (timer = undefined)
    void take().finally(() => (timer = setTimeout(tick, SAMPLE_EVERY_MS).unref()))
  }
  return {
    async touch() {
      lastUse = now()
      const last = samples[samples.length - 1]
      if (!last || now() - last.at >= SAMPLE_EVERY_MS) await take()
      if (!stopped) timer ??= setTimeout(tick, SAMPLE_EVERY_MS).unref()
    },
    stop() {
      stopped = true
      clearTimeout(timer)
    },
    series() {
      return samples.slice(1).map((s, i) => {
        const prev = samples[i] as Sample
        return { at: s.at, requests: rate(increase(s, prev, 0), s.at - prev.at), errors: rate(increase(s, prev, 1), s.at - prev.at) }
      })
    },
    endpointRates() {
      const first = samples[0]
      const last = samples[samples.length - 1]
      if (!first || !last) return {}
      const ms = last.at - first.at
      const out: Record<string, EndpointRates> = {}
      for (const [ep, [req, err]] of Object.entries(last.endpoints)) {
        const [req0, err0] = first.endpoints[ep] ?? [0, 0]
        const failures = last.handshakeFailures[ep] ?? {}
        const failuresByReason = Object.fromEntries(Object.entries(failures).map(([r, n]) => [r, rate(n - (first.handshakeFailures[ep]?.[r] ?? 0), ms)]))
        out[ep] = { requests: rate(req - req0, ms), errors: rate(err - err0, ms), failuresByReason }
      }
      return out
    },
  }
}

/** Totals since start (summed over workers), for when the window is still empty. */
export function totals(metrics: WorkerMetrics): { requests: number; errors: number; handshakeFailures: Record<string, Record<string, number>> } {
  const s = read(metrics, 0)
  return { requests: sum(s, 0), errors: sum(s, 1), handshakeFailures: s.handshakeFailures }
}
