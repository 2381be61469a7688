/**
 * `node dist/bench/unit-counts.js <case> [other-dist …]`: instructions and heap bytes per call of
 * one piece of the gateway's per-request work, for this build and each other build given (its
 * dist/), counted instead of timed, so a shared machine does not blur a sub-µs change.
 *
 * Instructions: valgrind's callgrind runs the case at two call counts (after the same warm-up) in
 * `node --single-threaded --predictable` (no concurrent compiler or collector threads: the same
 * binary and input count the same to a few instructions); the difference over the extra calls
 * removes start-up. Bytes: heap growth over 50,000 calls in a young generation large enough that
 * no collection should fall in between; when one does, the bytes read "n/a", never a growth it shrank. Needs valgrind. Cases:
 *   progress   request-progress.ts for one request on a kept-alive connection (its message begins,
 *              it is handed over, its read ends, it is answered), 64 connections in turn
 *   sign       a static token's OAuth 1.0a HMAC-SHA1 header signature as the proxy asks for it (the
 *              realistic path's: `signToSend` in a build that has it, else `sign`)
 *   sign-query the same with query placement, a two-parameter query (the URL sent read)
 *   sign-whole the header signature's whole SignResult (`sign`: the `sign` command's, the API's)
 *   request-id a request without X-Request-Id gets its id (requestIdOf)
 *   clock      one performance.now() (beside: `clock-empty`, the loop alone)
 */
import { createRequire } from 'node:module'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PerformanceObserver } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

const WARMUP = 20_000
const FEW = 20_000
const MANY = 120_000
/** Few enough that no collection falls among them, even for a signature (about 2 KiB each). */
const BYTES_CALLS = 50_000
const CASES = ['progress', 'sign', 'sign-query', 'sign-whole', 'request-id', 'clock', 'clock-empty'] as const
type CaseName = (typeof CASES)[number]

/** The case's one call, on the build in `dist`. */
async function caseOf(name: CaseName, dist: string): Promise<() => number> {
  const load = async <T>(path: string): Promise<T> => (await import(join(dist, path))) as T
  if (name === 'progress') {
    const p = await load<typeof import('../src/proxy/request-progress.js')>('src/proxy/request-progress.js')
    const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: { kOnMessageBegin: number; kOnExecute: number } }
    type Parser = { socket: object; getCurrentBuffer(): Buffer; [slot: number]: unknown }
    const conns = Array.from({ length: 64 }, () => {
      const socket: { parser: Parser | null } = { parser: null }
      const parser: Parser = { socket, getCurrentBuffer: () => Buffer.alloc(0) }
      parser[HTTPParser.kOnMessageBegin] = null
      parser[HTTPParser.kOnExecute] = (ret: unknown) => ret
      socket.parser = parser
      p.watchRequests(socket)
      return { socket, parser, req: { complete: true } as import('node:http').IncomingMessage }
    })
    let i = 0
    return () => {
      const c = conns[i++ % conns.length] as (typeof conns)[number]
      ;(c.parser[HTTPParser.kOnMessageBegin] as (this: Parser) => void).call(c.parser)
      p.requestStarted(c.socket)
      const read = (c.parser[HTTPParser.kOnExecute] as (this: Parser, ret: unknown) => number).call(c.parser, 100)
      p.requestAnswered(c.socket, c.req)
      return read
    }
  }
  if (name === 'sign' || name === 'sign-query' || name === 'sign-whole') {
    const { createSigner } = await load<typeof import('../src/oauth1/index.js')>('src/oauth1/index.js')
    const query = name === 'sign-query'
    const signer = createSigner({ consumerKey: 'ck-bench', consumerSecret: 's3cr3t-consumer', signatureMethod: 'HMAC-SHA1', includeVersion: true, bodyHash: false, placement: query ? 'query' : 'header' })
    const search = query ? '?page=2&limit=50' : ''
    const url = { protocol: 'https:', host: 'api.bench.test', pathname: '/v1/items', search, href: `https://api.bench.test/v1/items${search}`, hash: '' }
    // The proxy's call: signToSend where the build has it (session 52 on), sign before.
    const proxied = name !== 'sign-whole' && typeof (signer as Partial<typeof signer>).signToSend === 'function'
    const sign = proxied ? signer.signToSend.bind(signer) : signer.sign.bind(signer)
    // Read as sign-oauth1.ts reads them: the header, or the URL it sends.
    if (query) return () => sign({ method: 'GET', url, token: 'tk-bench', tokenSecret: 'tk-secret' }).queryUrl?.search.length ?? 0
    return () => sign({ method: 'GET', url, token: 'tk-bench', tokenSecret: 'tk-secret' }).authorizationHeader?.length ?? 0
  }
  if (name === 'request-id') {
    const { requestIdOf } = await load<typeof import('../src/proxy/request-id.js')>('src/proxy/request-id.js')
    const req = { headers: { host: 'api.bench.test', accept: '*/*' }, rawHeaders: ['Host', 'api.bench.test', 'Accept', '*/*'] } as unknown as import('node:http').IncomingMessage
    return () => requestIdOf(req, undefined).charCodeAt(35) // read as a header write reads it
  }
  return name === 'clock' ? () => performance.now() : () => 1
}

/** What a bytes run prints when a collection ran among its calls: the heap's growth then says nothing. */
const COLLECTED = 'collected'

/**
 * Runs `calls` calls after the warm-up; prints heap bytes per call when asked, or COLLECTED when a
 * collection fell among them (it would have freed an unknown share, down to a negative growth).
 */
async function runCase(name: CaseName, dist: string, calls: number, bytes: boolean): Promise<void> {
  const one = await caseOf(name, dist)
  let sink = 0
  for (let i = 0; i < WARMUP; i++) sink += one()
  let collections = 0
  const gcs = new PerformanceObserver((list) => { collections += list.getEntries().length })
  if (bytes) gcs.observe({ entryTypes: ['gc'] })
  const before = getHeapStatistics().used_heap_size
  for (let i = 0; i < calls; i++) sink += one()
  const grown = getHeapStatistics().used_heap_size - before
  if (bytes) {
    // GC entries are delivered on a later turn of the event loop.
    await new Promise((r) => setTimeout(r, 10))
    gcs.disconnect()
    console.log(collections > 0 ? COLLECTED : (grown / calls).toFixed(1))
  }
  if (sink === -1) console.log(sink) // kept live
}

/**
 * The driver's runs of this file, through bench/procs.ts's registry (a signal to the driver stops
 * them): loaded only there, so a counted run (`--run`) does not load it.
 */
const runTracked = async (command: string, args: string[]): ReturnType<typeof import('./procs.js').runTracked> => (await import('./procs.js')).runTracked(command, args)

/** Instructions callgrind counts for a run of `calls` calls (its summary on stderr: "Collected : N"). */
async function collected(name: CaseName, dist: string, calls: number): Promise<number> {
  const run = await runTracked('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', '--predictable', fileURLToPath(import.meta.url), '--run', name, dist, String(calls)])
  const found = /Collected : (\d+)/.exec(run.stderr)
  if (run.status !== 0 || !found) throw new Error(`callgrind failed (is valgrind installed?): ${run.stderr.slice(-500)}`)
  return Number(found[1])
}

const [first, ...rest] = process.argv.slice(2)
if (first === '--run') {
  const [name, dist, calls, bytes] = rest as [CaseName, string, string, string | undefined]
  await runCase(name, dist, Number(calls), bytes === 'bytes')
} else {
  const name = first as CaseName
  if (!CASES.includes(name)) throw new Error(`usage: node dist/bench/unit-counts.js <${CASES.join('|')}> [other-dist …]`)
  const here = resolve(fileURLToPath(new URL('..', import.meta.url)))
  for (const dist of [here, ...rest.map((d) => resolve(d))]) {
    const instructions = (calls: number): Promise<number> => collected(name, dist, calls)
    const perCall = Math.round(((await instructions(MANY)) - (await instructions(FEW))) / (MANY - FEW))
    const counted = await runTracked(process.execPath, ['--max-semi-space-size=256', '--min-semi-space-size=256', fileURLToPath(import.meta.url), '--run', name, dist, String(BYTES_CALLS), 'bytes'])
    if (counted.status !== 0) throw new Error(`the bytes run of ${name} failed: ${counted.stderr.slice(-500)}`)
    const out = counted.stdout.trim()
    const bytes = out === COLLECTED ? 'n/a (a collection ran among the calls)' : out
    console.log(`${name}\t${dist}\t${perCall} instructions/call\t${bytes} bytes/call`)
  }
}

