/**
 * Client spans for the upstream calls the gateway API makes on its own (the OAuth dance's
 * request-token and access-token calls, profile tests) without threading a trace through the
 * dance: the API request runs inside an AsyncLocalStorage scope, and undici's diagnostics
 * channels start a client span, add its `traceparent`, and end it at the response headers.
 * Proxied requests start their own client span (their forward step) and are left alone here.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { CallSpan, RequestTrace } from './spans.js'

/** The part of undici's Request the channels hand over that we use. */
interface UndiciRequest {
  origin?: string | URL
  method?: string
  /** Name, value, name, value… as given. */
  headers?: unknown
  addHeader(key: string, value: string): unknown
}

/**
 * True for a request that carries its context already: a proxied call (its forward step started
 * its client span and set `traceparent`). One sent again over a new connection is sent from the
 * callback of a connection in the endpoint's pool, and a connection an API call dialled (a profile
 * test's token call on the endpoint's own server) carries that call's scope: it was spanned into
 * the API request's trace, and sent upstream with a second `traceparent`.
 */
function carriesContext(request: UndiciRequest): boolean {
  const h = request.headers
  if (!Array.isArray(h)) return false
  for (let i = 0; i < h.length; i += 2) if (String(h[i]).toLowerCase() === 'traceparent') return true
  return false
}

/** Runs API handlers in a trace scope and spans their upstream calls. */
export interface ApiCallTracer {
  run<T>(trace: RequestTrace, fn: () => Promise<T>): Promise<T>
  close(): void
}

/** Subscribes to undici's request channels until close(). */
export function traceApiCalls(): ApiCallTracer {
  const scope = new AsyncLocalStorage<RequestTrace>()
  const calls = new WeakMap<object, CallSpan>()
  const onCreate = (message: unknown): void => {
    const trace = scope.getStore()
    const { request } = message as { request: UndiciRequest }
    if (!trace || carriesContext(request)) return
    const origin = new URL(String(request.origin ?? 'https://unknown.invalid'))
    const call = trace.call(request.method ?? 'GET', origin)
    for (const [k, v] of Object.entries(call.headers)) request.addHeader(k, v)
    calls.set(request, call)
  }
  const onHeaders = (message: unknown): void => {
    const { request, response } = message as { request: object; response: { statusCode: number } }
    calls.get(request)?.end(response.statusCode)
    calls.delete(request)
  }
  const onError = (message: unknown): void => {
    const { request, error } = message as { request: object; error: { code?: string } }
    calls.get(request)?.end(undefined, error.code ?? 'error')
    calls.delete(request)
  }
  subscribe('undici:request:create', onCreate)
  subscribe('undici:request:headers', onHeaders)
  subscribe('undici:request:error', onError)
  // Async-context tracking costs every promise in the process while a storage is enabled (Node 20):
  // enabled only while a /gateway/ request runs, so the proxy path does not pay for it.
  let running = 0
  return {
    run(trace, fn) {
      running++
      return scope.run(trace, fn).finally(() => {
        if (--running === 0) scope.disable()
      })
    },
    close() {
      unsubscribe('undici:request:create', onCreate)
      unsubscribe('undici:request:headers', onHeaders)
      unsubscribe('undici:request:error', onError)
    },
  }
}
