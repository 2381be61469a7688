/**
 * How common backends read a query string or form body and header names, written from their
 * sources and documentation, apart from src/: the specification the shadowing properties
 * judge the gateway against. Each query model returns the pairs its backend sees, each name as
 * that backend keys it (so two names it merges come out equal).
 */

export interface QueryModel {
  readonly name: string
  read(text: string): [string, string][]
}

/**
 * The UTF-8 of one UTF-16 code unit, as Buffer.from(c, 'utf8') gives it (a lone surrogate is
 * EF BF BD), ASCII without a Buffer: the properties decode millions of characters, and a Buffer
 * for each was a sixth of shadowed-names' time.
 */
function pushUtf8(bytes: number[], c: string): void {
  const code = c.charCodeAt(0)
  if (code < 0x80) bytes.push(code)
  else bytes.push(...Buffer.from(c, 'utf8'))
}

/** application/x-www-form-urlencoded decoding: "+" a space, `%XX` an octet, UTF-8 (lenient, like most). */
function formUnescape(s: string): string {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '+') bytes.push(0x20)
    else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else pushUtf8(bytes, c)
  }
  return Buffer.from(bytes).toString('utf8')
}

/**
 * System.Web's HttpUtility.UrlDecode (ASP.NET on .NET Framework, classic ASP): `%uXXXX` is one
 * UTF-16 code unit besides `%XX` octets and "+", in one pass (a decoded "%" starts nothing).
 */
function systemWebUnescape(s: string): string {
  let out = ''
  let bytes: number[] = []
  const flush = (): void => {
    out += Buffer.from(bytes).toString('utf8')
    bytes = []
  }
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '%' && /^[uU][0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 6))) {
      flush()
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16))
      i += 5
    } else if (c === '+') bytes.push(0x20)
    else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16))
      i += 2
    } else pushUtf8(bytes, c)
  }
  flush()
  return out
}

/** Go's url.QueryUnescape: strict, a bad escape drops the pair. */
function strictUnescape(s: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined
  return formUnescape(s)
}

function pairs(text: string, separator: RegExp): [string, string][] {
  return text.split(separator).filter((p) => p !== '').map((p) => {
    const eq = p.indexOf('=')
    return eq === -1 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)]
  })
}

/** Nested keys as one string (NUL ends every name, so it separates keys unambiguously). */
const path = (keys: string[]): string => keys.join('\0')

/** `[k]` groups at the start of `rest`, as long as they follow each other. */
function groups(rest: string): string[] {
  const keys: string[] = []
  for (let m = /^\[([^\]]*)\]/.exec(rest); m !== null; m = /^\[([^\]]*)\]/.exec(rest)) {
    keys.push(m[1] as string)
    rest = rest.slice(m[0].length)
  }
  return keys
}

/** PHP's php_register_variable_ex (main/php_variables.c). */
function phpKey(raw: string): string {
  const name = (formUnescape(raw).split('\0')[0] as string).replace(/^ +/, '')
  const open = name.indexOf('[')
  const base = (open === -1 ? name : name.slice(0, open)).replace(/[ .]/g, '_')
  if (open === -1) return base
  if (name.indexOf(']', open) === -1) return `${base}_${name.slice(open + 1)}` // no "]": "[" read as "_", the rest kept
  return path([base, ...groups(name.slice(open))])
}

/** Rack 2's normalize_params (lib/rack/query_parser.rb), recursing as it does on what follows the first key. */
function rack2Keys(name: string): string[] {
  const m = /^[[\]]*([^[\]]+)\]*/.exec(name)
  if (m === null) return ['']
  const after = name.slice(m[0].length)
  if (after === '') return [m[1] as string]
  if (after === '[') return [name]
  if (after === '[]') return [m[1] as string, '']
  if (after.startsWith('[]')) return [m[1] as string, '', ...rack2Keys(after.slice(2))]
  return [m[1] as string, ...rack2Keys(after)]
}
const rack2Key = (raw: string): string => path(rack2Keys(formUnescape(raw)))

/** Rack 3's normalize_params: a "[" after the first character nests; below that, `[k]` is k and anything malformed is a key as is. */
function rack3Keys(name: string, depth: number): string[] {
  let k: string
  let after: string
  const open = depth === 0 ? name.indexOf('[', 1) : -1
  const close = depth > 0 && name.startsWith('[') ? name.indexOf(']', 1) : -1
  if (depth === 0 && open !== -1) [k, after] = [name.slice(0, open), name.slice(open)]
  else if (close !== -1) [k, after] = [name.slice(1, close), name.slice(close + 1)]
  else [k, after] = [name, '']
  if (after === '') return [k]
  if (after === '[') return [name]
  if (after === '[]') return [k, '']
  return [k, ...rack3Keys(after, depth + 1)]
}
const rack3Key = (raw: string): string => path(rack3Keys(formUnescape(raw), 0))

/** qs's parseKeys (Express): the part before the first balanced `[…]`, then every balanced group (to depth 5), then the rest as one key. */
function qsKey(raw: string): string {
  const name = formUnescape(raw)
  const first = /\[[^[\]]*\]/.exec(name)
  if (first === null) return name
  const keys = first.index > 0 ? [name.slice(0, first.index)] : []
  const child = /\[[^[\]]*\]/g
  let m: RegExpExecArray | null = null
  for (let i = 0; i < 5 && (m = child.exec(name)) !== null; i++) keys.push(m[0].slice(1, -1))
  if (m !== null && (m = child.exec(name)) !== null) keys.push(name.slice(m.index))
  return path(keys)
}

export const QUERY_MODELS: readonly QueryModel[] = [
  { name: 'php', read: (t) => pairs(t, /&/).map(([n, v]) => [phpKey(n), formUnescape(v)]) },
  // Rack 2 splits on & and ; (and the spaces after them).
  { name: 'rack2', read: (t) => pairs(t, /[&;] */).map(([n, v]) => [rack2Key(n), formUnescape(v)]) },
  { name: 'rack3', read: (t) => pairs(t, /&/).map(([n, v]) => [rack3Key(n), formUnescape(v)]) },
  { name: 'qs', read: (t) => pairs(t, /&/).map(([n, v]) => [qsKey(n), formUnescape(v)]) },
  // Go before 1.17 and Python before 3.9.2: & and ; separate.
  { name: 'go_old', read: (t) => pairs(t, /[&;]/).flatMap(([n, v]): [string, string][] => { const k = strictUnescape(n); const x = strictUnescape(v); return k === undefined || x === undefined ? [] : [[k, x]] }) },
  { name: 'python_old', read: (t) => pairs(t, /[&;]/).map(([n, v]) => [formUnescape(n), formUnescape(v)]) },
  // Java servlets (Tomcat): & only, exact names.
  { name: 'servlet', read: (t) => pairs(t, /&/).map(([n, v]) => [formUnescape(n), formUnescape(v)]) },
  // ASP.NET: names compared ignoring case (upper-case folding, as OrdinalIgnoreCase).
  { name: 'aspnet', read: (t) => pairs(t, /&/).map(([n, v]) => [formUnescape(n).toUpperCase(), formUnescape(v)]) },
  // ASP.NET on .NET Framework (System.Web's HttpValueCollection): %uXXXX too, names ignoring case.
  { name: 'system_web', read: (t) => pairs(t, /&/).map(([n, v]) => [systemWebUnescape(n).toUpperCase(), systemWebUnescape(v)]) },
  // A framework behind a proxy that decodes once more.
  { name: 'double_decode', read: (t) => pairs(t, /&/).map(([n, v]) => [formUnescape(formUnescape(n)), formUnescape(v)]) },
]

/**
 * The values a model reads at the key path it gives the gateway's own `name=…` piece, or at a
 * key containing it or inside it (a caller's `acct[]` beside `acct` merges with it in qs).
 */
export function valuesRead(model: QueryModel, text: string, encodedName: string): string[] {
  const key = (model.read(`${encodedName}=x`)[0] as [string, string])[0]
  const overlaps = (n: string): boolean => n === key || key.startsWith(`${n}\0`) || n.startsWith(`${key}\0`)
  return model.read(text).filter(([n]) => overlaps(n)).map(([, v]) => v)
}

/** Every first key a model reads in `text`, lower-cased. */
export function namesRead(text: string): string[] {
  return QUERY_MODELS.flatMap((m) => m.read(text).map(([n]) => (n.split('\0')[0] as string).toLowerCase()))
}

/** How CGI-style servers key a header: RFC 3875 §4.1.18 maps "-" to "_"; lighttpd maps every non-alphanumeric character. */
export function cgiVariable(headerName: string): string {
  return `HTTP_${headerName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
}
