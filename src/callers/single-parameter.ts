/**
 * Parameters of a query string or form body, one value each. `URLSearchParams.get` keeps the
 * first of two (`?oauth_token=a&oauth_token=b` is a), `Object.fromEntries` the last, and another
 * reader of the same request (a proxy, a WAF, a framework) may keep either or join them: a
 * credential, user or tenant given twice is ambiguous, and the gateway guesses no value of it
 * (HTTP parameter pollution). 400 naming the parameter.
 */
import { GatewayError } from '../errors.js'

/** The 400 for parameter `name` given more than once in `where` (the query string, the form body). */
export function repeatedParameter(name: string, where: string): GatewayError {
  return new GatewayError('bad_request', `${name} appears more than once in ${where}: the gateway does not guess which one counts; send it once`)
}

/** The one value of parameter `name` in `params`, or undefined when absent; 400 when `params` gives it more than once. */
export function singleParameter(params: URLSearchParams, name: string, where = 'the query string'): string | undefined {
  const all = params.getAll(name)
  if (all.length > 1) throw repeatedParameter(name, where)
  return all[0]
}

/**
 * The one value of each parameter of `names` (what a route reads), read together before any is used:
 * a repeat is refused whatever else about the request would be refused first.
 */
export function singleParameters<K extends string>(params: URLSearchParams, names: readonly K[], where = 'the query string'): Record<K, string | undefined> {
  const out = {} as Record<K, string | undefined>
  for (const name of names) out[name] = singleParameter(params, name, where)
  return out
}

/** Every parameter of `params` with its one value; 400 naming the first given more than once. */
export function uniqueParameters(params: URLSearchParams, where: string): Record<string, string> {
  const seen = new Set<string>()
  for (const name of params.keys()) {
    if (seen.has(name)) throw repeatedParameter(name, where)
    seen.add(name)
  }
  return Object.fromEntries(params)
}

/**
 * The first member name JSON text `text` (already parsed by JSON.parse, so well-formed) gives twice
 * in one object, at any depth, decoded (`"a"` and `"\u0061"` are one name); undefined when none is.
 * JSON.parse keeps the last of two, some parsers the first: the same ambiguity as a repeated form
 * parameter.
 */
export function repeatedJsonKey(text: string): string | undefined {
  // One entry per open object (its names so far) or array (undefined).
  const open: (Set<string> | undefined)[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '{') open.push(new Set())
    else if (c === '[') open.push(undefined)
    else if (c === '}' || c === ']') open.pop()
    else if (c === '"') {
      const start = i
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++
      let next = i + 1
      while (text[next] === ' ' || text[next] === '\t' || text[next] === '\n' || text[next] === '\r') next++
      const names = open.at(-1)
      if (text[next] !== ':' || names === undefined) continue
      const name = JSON.parse(text.slice(start, i + 1)) as string
      if (names.has(name)) return name
      names.add(name)
    }
  }
  return undefined
}

/** A member name repeatedJsonKey found, for a message: quoted, cut at 64 characters. */
export function quotedJsonName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)
}

/**
 * A request body's JSON text as the object it must be: 400 "the request body must be a JSON object"
 * otherwise, and 400 naming a member given twice in one object (quoted, cut at 64 characters).
 */
export function jsonObjectBody(text: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    // the 400 below
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new GatewayError('bad_request', 'the request body must be a JSON object')
  const name = repeatedJsonKey(text)
  if (name !== undefined) throw repeatedParameter(quotedJsonName(name), 'the request body')
  return v as Record<string, unknown>
}
