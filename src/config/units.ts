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

/** Milliseconds from a number (already ms) or a string like `5s`. */
export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(v)
  if (!m) throw new TypeError(`not a duration: ${v}`)
  return Math.round(Number(m[1]) * (DURATION_MS[m[2] as string] as number))
}

/** Bytes from a number (already bytes) or a string like `10MiB`. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v
  const m = /^([0-9]+)(B|KiB|MiB|GiB|kB|KB|MB|GB)$/.exec(v)
  if (!m) throw new TypeError(`not a size: ${v}`)
  return Number(m[1]) * (SIZE_BYTES[m[2] as string] as number)
}
