/** Small readers over schema-valid raw YAML values, shared by the normalisers. */

export type Raw = Record<string, unknown>
/** Reports a problem at a key path relative to the section being normalised. */
export type Report = (path: (string | number)[], msg: string) => void

export const obj = (v: unknown): Raw => (v !== null && typeof v === 'object' ? (v as Raw) : {})
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
export const list = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.map(String) : [])
