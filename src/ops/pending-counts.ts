/**
 * Per-request counts kept as plain numbers and added to their prom-client counter when it is
 * read (its collect: every scrape, getMetricsAsJSON for the console and the --workers
 * aggregation). A prom-client inc validates and hashes its labels on every call, even on a
 * labels() child; a slot here is bound once per label set and costs one addition.
 */
import type { Counter } from 'prom-client'

/** The amount one label set gained since the last read. */
export interface PendingSlot {
  n: number
}

/** The slots of one counter. */
export interface PendingCounts<L extends string> {
  /** The slot of one label set (made on first use; callers may keep it). */
  slot(key: string, labels: () => Record<L, string>): PendingSlot
  /** Adds every slot's amount to the counter; call from the counter's collect. A label set once seen stays. */
  flush(counter: Counter<L>): void
}

export function createPendingCounts<L extends string>(): PendingCounts<L> {
  const slots = new Map<string, PendingSlot & { readonly labels: Record<L, string> }>()
  return {
    slot(key, labels) {
      let s = slots.get(key)
      if (!s) slots.set(key, (s = { labels: labels(), n: 0 }))
      return s
    },
    flush(counter) {
      for (const s of slots.values()) {
        // Amounts are sums of integers; a non-finite one would make every later scrape throw.
        if (!(s.n > 0 && Number.isFinite(s.n))) {
          s.n = 0
          continue
        }
        counter.inc(s.labels as Partial<Record<L, string | number>>, s.n)
        s.n = 0
      }
    },
  }
}
