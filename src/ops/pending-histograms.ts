/**
 * Per-request histogram observations kept as plain numbers and added to their prom-client
 * histogram when it is read (its collect), as pending-counts.ts does for counters. A
 * prom-client observe validates its labels, rebuilds their hash string and looks it up on
 * every call — on a labels() child too, whose observe is a closure over the label object.
 * A slot here is bound once per label set; an observation is a bucket scan and two additions.
 */
import type { Histogram } from 'prom-client'

/** Where one label set's observations go until the histogram is read. */
export interface PendingObservations {
  /** Like prom-client's observe; a non-finite value (which prom-client would throw on) is dropped. */
  observe(value: number): void
}

/** The slots of one histogram. */
export interface PendingHistogram<L extends string> {
  /** A new slot for one label set (callers keep it: a second slot for the same labels adds to the same series). */
  slot(labels: Record<L, string>): PendingObservations
  /** Adds every slot's observations to the histogram; call from the histogram's collect. */
  flush(histogram: Histogram<L>): void
}

/** One series of prom-client 15's Histogram (hashMap values): what flush adds to. */
interface Series {
  labels: Record<string, string | number>
  bucketValues: Record<number, number>
  sum: number
  count: number
}

/**
 * The fields of prom-client's Histogram that flush reads and writes. Not in its typings;
 * test/ops/pending-histograms.test.ts holds the result to prom-client's own observe.
 */
interface HistogramInternals {
  name: string
  hashMap: Record<string, Series>
  upperBounds: readonly number[]
}

class Slot implements PendingObservations {
  readonly labels: Record<string, string>
  readonly #bounds: readonly number[]
  /** Per bucket: observations whose first upper bound ≥ value is that bucket's (above the last: sum and count only). */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return
    const bounds = this.#bounds
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1
        break
      }
    }
    this.sum += value
    this.count++
  }
}

/** `bounds` must be the histogram's buckets, as passed to its constructor. */
export function createPendingHistogram<L extends string>(bounds: readonly number[]): PendingHistogram<L> {
  // In the order given: prom-client scans its buckets that way too (first bound ≥ value).
  const order = [...bounds]
  const slots: Slot[] = []
  return {
    slot(labels) {
      const s = new Slot(Object.assign({}, labels), order)
      slots.push(s)
      return s
    },
    flush(histogram) {
      const inner = histogram as unknown as HistogramInternals
      for (const s of slots) {
        if (s.count === 0) continue
        const series = seriesOf(histogram, inner, s.labels)
        const upper = inner.upperBounds
        for (let i = 0; i < s.counts.length; i++) {
          const n = s.counts[i] as number
          if (n === 0) continue
          series.bucketValues[upper[i] as number] = (series.bucketValues[upper[i] as number] ?? 0) + n
          s.counts[i] = 0
        }
        series.sum += s.sum
        series.count += s.count
        s.sum = 0
        s.count = 0
      }
    },
  }
}

/** The histogram's series for these labels, made (zeroed) when it has none yet. */
function seriesOf<L extends string>(histogram: Histogram<L>, inner: HistogramInternals, labels: Record<string, string>): Series {
  const found = findSeries(inner, labels)
  if (found) return found
  histogram.zero(labels as Partial<Record<L, string | number>>)
  const made = findSeries(inner, labels)
  if (!made) throw new Error(`prom-client histogram ${inner.name}: no series after zero(); pending-histograms.ts no longer matches prom-client`)
  return made
}

function findSeries(inner: HistogramInternals, labels: Record<string, string>): Series | undefined {
  const names = Object.keys(labels)
  for (const series of Object.values(inner.hashMap)) {
    const have = series.labels
    if (Object.keys(have).length === names.length && names.every((k) => String(have[k]) === labels[k])) return series
  }
  return undefined
}
