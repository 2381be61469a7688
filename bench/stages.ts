/**
 * Where a request's CPU goes: a `node --cpu-prof` profile of a gateway cut to the time window
 * of one path's measurement, each sample charged to one stage of the request (a pipeline
 * step, the log line, metrics, upstream dispatch, response relay, …) and turned into µs per
 * request. A sample goes to the innermost frame that names a stage: gateway code by its file (the
 * bundle's frames by the module their source map names), pino / prom-client by package; stacks
 * without any go to the platform part they run in.
 */
import { readFileSync } from 'node:fs'
import type { GcFacts } from './gc-trace.js'
import { median } from './report.js'
import { originUrl, type Frame } from './source-origins.js'

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string } & Frame; children?: number[] }[]
  /** Monotonic µs (the clock of process.hrtime). */
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface StageCost {
  stage: string
  usPerReq: number
  share: number
}

const DISPATCH = 'upstream dispatch (forward step + undici request write)'
const RELAY = 'response relay (upstream body → caller)'
const HTTP_SERVER = 'node:http server (inbound parse, response head/end)'

/**
 * node:http writing the caller's answer (the head, body chunks, the end and the socket writes under them):
 * node:http's work, whoever calls it. The floor's pipe ends the response from a stream tick and the
 * gateway's relay from its handler: charged by caller, the same output work sat in two different rows.
 */
function isResponseOutput(fn: string, url: string): boolean {
  return (fn === 'writeHead' && /_http_server$/.test(url)) || ((fn === 'write' || fn === 'end' || fn === 'flushHeaders') && /_http_outgoing$/.test(url))
}
const SIGN = 'step sign_oauth1 (OAuth 1.0a)'
// What the signer hands node:crypto (the HMAC's context, update and digest; nonce bytes): in the gateway
// process the HMAC's context set-up costs two to three times what a micro-benchmark's warm loop says.
const SIGN_CRYPTO = 'step sign_oauth1: node:crypto (HMAC, nonce bytes)'
const NODE_CRYPTO = /^node:(internal\/)?crypto(\/|$)/

/** Gateway files (under dist/src/) and packages, innermost match wins. */
const OWN: readonly [RegExp, string][] = [
  [/\/src\/(oauth1\/|proxy\/steps\/sign-oauth1)/, SIGN],
  // The endpoint's pools (origin-pools.ts) hand the request to undici's Agent: what runs under them is the dispatch, not routing.
  [/\/src\/proxy\/steps\/forward\.|\/src\/gateway\/(upstream|origin-pools)\./, DISPATCH],
  // The upstream call's handler: the head settling forward, body chunks written to the caller.
  [/\/src\/proxy\/upstream-call\./, RELAY],
  // apply_authorization's shortcut for fixed header fields, in a module of its own.
  [/\/src\/proxy\/steps\/literal-header-fields\./, 'step apply_authorization'],
  [/\/src\/proxy\/steps\/([a-z0-9-]+)\./, 'step $1'],
  [/\/src\/proxy\/connect\./, 'CONNECT tunnel setup'],
  // access-line.ts serialises the line's fields (it was charged to ops glue until session 49).
  [/\/src\/ops\/(log|log-sink|batching-sink|redact|pretty|access-line|bounded-line)\.|\/node_modules\/(pino|sonic-boom|pino-std-serializers|@pinojs|fast-redact|thread-stream)\//, 'access log line'],
  [/\/src\/ops\/(metrics|request-metrics|pending-counts|in-flight)\.|\/node_modules\/(prom-client|tdigest|bintrees)\//, 'metrics + in-flight'],
  [/\/src\/ops\/upstream-facts\./, 'upstream facts (undici diagnostics)'],
  [/\/src\/ops\//, 'ops glue (onDone)'],
  [/\/src\/proxy\/(listener|proxy-request|connection-guard|connection-caps|outcome|caller-connection|upstream-target|pipeline|pipeline-run|request-target|body|caller-presence|write-error|client-error)\./, 'listener + pipeline plumbing'],
  [/\/src\/(tracing\/|proxy\/end-trace\.)|\/node_modules\/@opentelemetry\//, 'tracing (spans, context)'],
  [/\/src\/(gateway|tls|callers)\//, 'routing, caller, TLS policy'],
]

function platformStage(fns: readonly string[], urls: readonly string[]): string {
  const has = (re: RegExp): boolean => urls.some((u) => re.test(u))
  const fn = (re: RegExp): boolean => fns.some((f) => re.test(f))
  // The floor's answer handler (undici's RequestHandler and BodyReadable, as the gateway's UpstreamCall), its header object the parse's.
  if (has(/undici\/lib\/api\//) && !fn(/^parseHeaders$/)) return RELAY
  // Response bytes flowing upstream → caller: undici's parser pushing into the body stream piped to the response (the floor).
  if (has(/undici/) && fn(/^(ondata|pipeOnDrain|onBody|pipe)$/)) return RELAY
  if (has(/undici/) && fn(/^(onData|onDrain|writeStream|writeIterable|writeBuffer)$/)) return 'request body relay (caller → upstream)'
  if (has(/undici/) && fn(/^(onHttpSocketReadable|readMore|execute|onHeadersComplete|onMessageComplete|onStatus|onHeaderField|onHeaderValue|wasm-function.*)$/)) return 'upstream response parse (undici llhttp)'
  if (has(/undici/)) return 'undici (pool, queue, socket events)'
  if (has(/_http_(server|common|incoming|outgoing)/)) return HTTP_SERVER
  if (has(/^(node:)?(_tls_|tls|net|internal\/tls|internal\/stream_base)/) || fn(/^(writev|writeLatin1String|writeUtf8String|writeBuffer|onStreamRead|ssl)/i)) return 'sockets + TLS'
  if (has(/streams|events/)) return 'streams + events'
  return 'other (timers, microtasks, runtime)'
}

/** Stage of one stack (leaf first). */
function classify(fns: readonly string[], urls: readonly string[]): string {
  const leaf = fns[0] ?? ''
  if (leaf === '(garbage collector)') return 'garbage collector'
  if (leaf === '(program)') return 'V8 + native (program)'
  let inUndici = false
  let inCrypto = false
  for (let i = 0; i < urls.length; i++) {
    const url = urls[i] as string
    if (isResponseOutput(fns[i] as string, url)) return HTTP_SERVER
    for (const [re, stage] of OWN) {
      if (!re.test(url)) continue
      if (stage === SIGN && inCrypto) return SIGN_CRYPTO
      return stage.includes('$1') ? url.replace(/^.*?\/src\/proxy\/steps\/([a-z0-9-]+)\..*$/, 'step $1').replaceAll('-', '_') : stage
    }
    // The floor's request handler: what it hands to undici is its upstream dispatch, like the gateway's forward step.
    if (/\/bench\/forwarder\./.test(url)) return inUndici ? DISPATCH : 'forwarder handler (floor)'
    inUndici ||= /undici/.test(url)
    inCrypto ||= NODE_CRYPTO.test(url)
  }
  return platformStage(fns, urls)
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
}

/**
 * Stage costs of the samples in [fromUs, toUs) (monotonic µs), busiest first. Shares count
 * samples (idle left out), so a busy machine preempting the process does not skew them; µs
 * per request is the share of the main thread's CPU per request measured from /proc.
 */
export function stageCosts(p: CpuProfile, fromUs: number, toUs: number, mainCpuUsPerReq: number): StageCost[] {
  const parent = new Map<number, number>()
  const frame = new Map<number, { functionName: string; url: string }>()
  for (const n of p.nodes) {
    frame.set(n.id, { functionName: n.callFrame.functionName, url: originUrl(n.callFrame) })
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const stageOf = new Map<number, string | null>()
  const stageOfNode = (id: number): string | null => {
    const known = stageOf.get(id)
    if (known !== undefined) return known
    const fns: string[] = []
    const urls: string[] = []
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = frame.get(cur)
      if (!f) break
      fns.push(f.functionName)
      urls.push(f.url)
    }
    const s = fns[0] === '(idle)' || fns[0] === '(root)' ? null : classify(fns, urls)
    stageOf.set(id, s)
    return s
  }
  const counts = new Map<string, number>()
  let t = p.startTime
  let busy = 0
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0
    if (t < fromUs || t >= toUs) continue
    const s = stageOfNode(p.samples[i] as number)
    if (s === null) continue
    counts.set(s, (counts.get(s) ?? 0) + 1)
    busy++
  }
  return [...counts]
    .map(([stage, c]) => ({ stage, share: c / Math.max(1, busy), usPerReq: (c / Math.max(1, busy)) * mainCpuUsPerReq }))
    .sort((a, b) => b.usPerReq - a.usPerReq)
}

/** A sampling heap profile (`HeapProfiler.stopSampling`): a call tree whose nodes carry the bytes allocated in them. */
export interface HeapProfile {
  head: HeapNode
}

export interface HeapNode {
  callFrame: { functionName: string } & Frame
  /** Bytes allocated by this frame itself (V8 scales the samples to an estimate). */
  selfSize: number
  children?: HeapNode[]
}

export interface StageBytes {
  stage: string
  bytesPerReq: number
}

/**
 * Bytes allocated per request by stage, busiest first: each call-tree node's bytes charged to
 * the stage of its stack, by the same rules as the CPU samples (innermost gateway file or
 * package, else the platform part it runs in).
 */
export function allocationStages(p: HeapProfile, requests: number): StageBytes[] {
  const bytes = new Map<string, number>()
  const fns: string[] = []
  const urls: string[] = []
  // Depth-first with the stack kept root first; classify wants it leaf first.
  const visit = (node: HeapNode): void => {
    fns.push(node.callFrame.functionName)
    urls.push(originUrl(node.callFrame))
    if (node.selfSize > 0) {
      const stage = classify([...fns].reverse(), [...urls].reverse())
      bytes.set(stage, (bytes.get(stage) ?? 0) + node.selfSize)
    }
    for (const child of node.children ?? []) visit(child)
    fns.pop()
    urls.pop()
  }
  visit(p.head)
  const n = Math.max(1, requests)
  return [...bytes].map(([stage, b]) => ({ stage, bytesPerReq: b / n })).sort((a, b) => b.bytesPerReq - a.bytesPerReq)
}

/** One markdown table: a row per stage, a column per (path, body); bytes allocated per request. */
export function allocationMarkdown(profiles: readonly { path: string; body: string; requests: number; stages: readonly StageBytes[] }[]): string {
  if (profiles.length === 0) return ''
  const names = [...new Set(profiles.flatMap((p) => p.stages.map((s) => s.stage)))]
  const most = (stage: string): number => Math.max(...profiles.map((p) => p.stages.find((s) => s.stage === stage)?.bytesPerReq ?? 0))
  names.sort((a, b) => most(b) - most(a))
  const kb = (b: number): string => (b / 1024).toFixed(1)
  const lines = [`| stage (KiB allocated/request) | ${profiles.map((p) => `${p.path} ${p.body}`).join(' | ')} |`, `|---|${profiles.map(() => '--:').join('|')}|`]
  for (const name of names) lines.push(`| ${name} | ${profiles.map((p) => kb(p.stages.find((s) => s.stage === name)?.bytesPerReq ?? 0)).join(' | ')} |`)
  lines.push(`| **total** | ${profiles.map((p) => kb(p.stages.reduce((t, s) => t + s.bytesPerReq, 0))).join(' | ')} |`)
  lines.push(`| requests in the window | ${profiles.map((p) => String(p.requests)).join(' | ')} |`)
  return lines.join('\n') + '\n'
}

/** One profiled (path, body): its window's figures, and the same path and body's unprofiled main thread from the rounds when they ran it. */
export interface StageColumn {
  path: string
  body: string
  requests: number
  cpuUsPerReq: number
  mainThreadUsPerReq: number
  stages: readonly StageCost[]
  gc?: GcFacts
  /** The warm-up before the window (bench/warm-up.ts), when it watched the young generation. */
  warm?: { ms: number; requests: number; settled: boolean }
  /** The rounds' median main-thread CPU per request, without the profiler. */
  unprofiledMainUsPerReq?: number
}

/**
 * What the profiler itself adds to a column's main thread: profiled ÷ unprofiled, or undefined
 * without a figure from the rounds. The sampling walks the stack on the main thread, so a deep
 * request path pays more for it than the floor's shallow one (measured: the realistic path's main
 * thread ×1.4 under the profiler, the floor's ×1.0).
 */
export function profilerInflation(c: Pick<StageColumn, 'mainThreadUsPerReq' | 'unprofiledMainUsPerReq'>): number | undefined {
  const u = c.unprofiledMainUsPerReq
  return u !== undefined && Number.isFinite(u) && u > 0 && c.mainThreadUsPerReq > 0 ? c.mainThreadUsPerReq / u : undefined
}

/** Each column given the median unprofiled main thread of the rounds' samples of its path and body (none: left as profiled). */
export function withUnprofiled<C extends { path: string; body: string }>(columns: readonly C[], samples: readonly { path: string; body: string; mainCpuUsPerReq?: number | null }[]): (C & { unprofiledMainUsPerReq?: number })[] {
  return columns.map((c) => {
    const us = samples.flatMap((s) => (s.path === c.path && s.body === c.body && typeof s.mainCpuUsPerReq === 'number' && Number.isFinite(s.mainCpuUsPerReq) ? [s.mainCpuUsPerReq] : []))
    return us.length === 0 ? { ...c } : { ...c, unprofiledMainUsPerReq: median(us) }
  })
}

/**
 * One markdown table: a row per stage, a column per profiled (path, body); µs per request. A
 * column the rounds also measured is scaled to their unprofiled main thread (each stage keeps its
 * share of the samples), so its rows add up to what the path costs without the profiler and read
 * against the targets' figures; the rows below say how much the profiler had inflated it.
 */
export function stageMarkdown(profiles: readonly StageColumn[]): string {
  if (profiles.length === 0) return ''
  const scale = profiles.map((p) => {
    const k = profilerInflation(p)
    return k === undefined ? 1 : 1 / k
  })
  const scaled = profiles.some((p) => profilerInflation(p) !== undefined)
  const names = [...new Set(profiles.flatMap((p) => p.stages.map((s) => s.stage)))]
  const usOf = (i: number, stage: string): number => (profiles[i]?.stages.find((s) => s.stage === stage)?.usPerReq ?? 0) * (scale[i] as number)
  const cost = (stage: string): number => Math.max(...profiles.map((_, i) => usOf(i, stage)))
  names.sort((a, b) => cost(b) - cost(a))
  const f = (x: number): string => (x >= 10 ? x.toFixed(0) : x.toFixed(1))
  const lines = [
    `| stage (µs/request, main thread${scaled ? ', scaled to the rounds without the profiler' : ''}) | ${profiles.map((p) => `${p.path} ${p.body}`).join(' | ')} |`,
    `|---|${profiles.map(() => '--:').join('|')}|`,
  ]
  for (const name of names) lines.push(`| ${name} | ${profiles.map((_, i) => f(usOf(i, name))).join(' | ')} |`)
  lines.push(`| **main thread total** | ${profiles.map((p, i) => f(p.mainThreadUsPerReq * (scale[i] as number))).join(' | ')} |`)
  if (scaled) {
    lines.push(`| main thread under the profiler | ${profiles.map((p) => f(p.mainThreadUsPerReq)).join(' | ')} |`)
    lines.push(`| the profiler's inflation of the main thread | ${profiles.map((p) => {
      const k = profilerInflation(p)
      return k === undefined ? '— (not in the rounds: as profiled)' : `${k.toFixed(2)} ×`
    }).join(' | ')} |`)
  }
  lines.push(`| other threads under the profiler (its own sampling thread, GC helpers, compiler, libuv) | ${profiles.map((p) => f(p.cpuUsPerReq - p.mainThreadUsPerReq)).join(' | ')} |`)
  lines.push(`| **process CPU, profiled** | ${profiles.map((p) => f(p.cpuUsPerReq)).join(' | ')} |`)
  lines.push(`| requests in the window | ${profiles.map((p) => String(p.requests)).join(' | ')} |`)
  if (profiles.some((p) => p.warm)) {
    lines.push(`| warm-up before it: requests, seconds (young generation settled?) | ${profiles.map((p) => (p.warm ? `${p.warm.requests}, ${(p.warm.ms / 1000).toFixed(0)} s (${p.warm.settled ? 'yes' : '**no**'})` : '—')).join(' | ')} |`)
  }
  if (profiles.some((p) => p.gc)) {
    // Request objects should die young: heap kept per request well above 0 means they are being promoted.
    const g = (fn: (x: GcFacts) => number, digits = 1): string => profiles.map((p) => (p.gc ? fn(p.gc).toFixed(digits) : '—')).join(' | ')
    lines.push(`| young-generation collections per 1,000 requests | ${g((x) => x.youngPer1k, 2)} |`)
    lines.push(`| their pause, ms per 1,000 requests | ${g((x) => x.youngPauseMsPer1k)} |`)
    lines.push(`| heap kept after young collections, KB per request | ${g((x) => x.keptKbPerReq, 2)} |`)
    lines.push(`| full (mark-compact) collections in the window | ${g((x) => x.full, 0)} |`)
    lines.push(`| their time (final pause and incremental marking), µs per request | ${g((x) => x.fullUsPerReq)} |`)
  }
  return lines.join('\n') + '\n'
}
