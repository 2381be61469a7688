/** Durations (`250ms`, `5s`) and sizes (`10MiB`) as written in the config. */

const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const SIZE_BYTES: Record<string, number> = {
  B: 1,
  kB: 1000,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
}

/**
 * The longest delay a Node timer holds, 2^31 − 1 ms (about 24.8 days): setTimeout runs a longer one
 * after 1 ms (a socket's timeout cuts it to this) with a TimeoutOverflowWarning. The schema's
 * `maxDuration` keeps every duration the gateway times below it (schema-operations.ts).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1

const DURATION = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/

/** True for what the schema's duration type accepts: whole milliseconds (≥ 0) or a string like `5s`. */
export function isDuration(v: unknown): v is number | string {
  return typeof v === 'number' ? Number.isInteger(v) && v >= 0 : typeof v === 'string' && DURATION.test(v)
}

/** Milliseconds from a number (already ms) or a string like `5s`. */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v
  const m = DURATION.exec(v)
  if (!m) throw new TypeError(`not a duration: ${v}`)
  return Math.round(Number(m[1]) * (DURATION_MS[m[2] as string] as number))
}

/**
 * A number as plain decimal digits: `String(1e30)` is `1e+30`, which reads as no duration or size a
 * config accepts. YAML reads a long integer as a double, so what it prints is the double's shortest form.
 */
export function plainNumber(n: number): string {
  return n.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 })
}

/** A duration from the config, for messages: a string as written (`720h`), a number as milliseconds in plain digits (`2146000000 ms`). */
export function formatDuration(v: number | string): string {
  return typeof v === 'string' ? v : `${plainNumber(v)} ms`
}

/** Bytes from a number (already bytes) or a string like `10MiB`. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v
  const m = /^([0-9]+)(B|KiB|MiB|GiB|kB|KB|MB|GB)$/.exec(v)
  if (!m) throw new TypeError(`not a size: ${v}`)
  return Number(m[1]) * (SIZE_BYTES[m[2] as string] as number)
}
