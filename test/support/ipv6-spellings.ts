/**
 * IPv6 addresses as eight 16-bit groups, and the many texts one address can be written as
 * (RFC 4291 §2.2: leading zeros, any run of zero groups as `::`, hex case, the last 32 bits as a
 * dotted quad). `groupsOf` reads a text back by hand, without node:net or WHATWG URL, so tests
 * can check that the gateway's canonical spelling names the very address that was written.
 */
import fc from 'fast-check'

export type Groups = readonly number[]

/** ::1, and addresses a careless normaliser might confuse with it or with each other. */
export const LOOPBACK: Groups = [0, 0, 0, 0, 0, 0, 0, 1]
export const NEIGHBOURS: Groups[] = [
  [0, 0, 0, 0, 0, 0, 0, 2],
  [0, 0, 0, 0, 0, 0, 0, 0x100],
  [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1], // ::ffff:127.0.0.1, IPv4-mapped
  [0, 0, 0, 0, 0, 0, 0x7f00, 1], // ::127.0.0.1, IPv4-compatible
  [1, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 1, 0],
  [0, 0, 0, 0, 0, 0, 1, 1],
  [0x10, 0, 0, 0, 0, 0, 0, 1],
]

/** The eight groups a text names; undefined when it is not an IPv6 address this reader knows. */
export function groupsOf(text: string): Groups | undefined {
  let t = text.toLowerCase()
  const quad = /^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t)
  if (quad) {
    const b = quad.slice(2).map(Number)
    if (b.some((x) => x > 255)) return undefined
    t = `${quad[1]}${(((b[0] as number) << 8) | (b[1] as number)).toString(16)}:${(((b[2] as number) << 8) | (b[3] as number)).toString(16)}`
  }
  const halves = t.split('::')
  if (halves.length > 2) return undefined
  const read = (s: string): number[] | undefined => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)))
  const left = read(halves[0] as string)
  const right = halves.length === 2 ? read(halves[1] as string) : []
  if (!left || !right || [...left, ...right].some(Number.isNaN)) return undefined
  if (halves.length === 1) return left.length === 8 ? left : undefined
  const zeros = 8 - left.length - right.length
  return zeros >= 1 ? [...left, ...new Array<number>(zeros).fill(0), ...right] : undefined
}

export const sameAddress = (a: Groups, b: Groups): boolean => a.every((g, i) => g === b[i])

/** An address: ::1 often, its neighbours, or anything. */
export const addresses = (): fc.Arbitrary<Groups> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(LOOPBACK) },
    { weight: 3, arbitrary: fc.constantFrom(...NEIGHBOURS) },
    { weight: 2, arbitrary: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }) },
  )

/** One text for `groups`: per group 0–3 extra leading zeros, a chosen zero run as `::` (or none), random hex case, maybe a dotted-quad tail. */
export const spellingOf = (groups: Groups): fc.Arbitrary<string> =>
  fc
    .record({
      pad: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
      quad: fc.boolean(),
      run: fc.nat(),
      upper: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
    })
    .map(({ pad, quad, run, upper }) => {
      const slots = quad ? 6 : 8
      const parts = groups.slice(0, slots).map((g, i) => g.toString(16).padStart(Math.min(4, g.toString(16).length + (pad[i] as number)), '0'))
      if (quad) parts.push([groups[6] as number, groups[7] as number].map((g) => `${g >> 8}.${g & 0xff}`).join('.'))
      // Every maximal-or-not run of zero groups that may become `::` (never inside the quad).
      const runs: [number, number][] = []
      for (let i = 0; i < slots; i++) for (let j = i; j < slots && groups[j] === 0; j++) runs.push([i, j + 1])
      const pick = runs.length === 0 ? undefined : run % (runs.length + 1) === runs.length ? undefined : runs[run % (runs.length + 1)]
      const text = pick ? `${parts.slice(0, pick[0]).join(':')}::${parts.slice(pick[1]).join(':')}` : parts.join(':')
      return [...text].map((c, i) => (upper[i % 40] ? c.toUpperCase() : c)).join('')
    })

/** An address and one spelling of it. */
export const spelledAddresses = (): fc.Arbitrary<{ groups: Groups; text: string }> => addresses().chain((groups) => spellingOf(groups).map((text) => ({ groups, text })))
