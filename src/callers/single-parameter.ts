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
