/**
 * Preloaded (`node --import`) into the bench's processes for the allocation table: the first
 * SIGUSR2 starts V8's sampling heap profiler, counting objects that were collected too (young
 * and full collections), so every byte a window allocated is seen, not only what survived it;
 * the second stops it and writes the profile to `heap-<pid>-<n>.json` in the working directory,
 * then prints `heap profile written: <file>` (the bench waits for that line). Bench only: not
 * part of the gateway.
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** One sample per this many bytes allocated (V8's default is 32 KiB: too coarse for ~30 KB requests). */
const SAMPLING_INTERVAL = 1024

const session = new Session()
session.connect()
const post = <T>(method: string, params: object = {}): Promise<T> =>
  new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))))

let sampling = false
let written = 0
process.on('SIGUSR2', () => {
  const step = sampling
    ? post<{ profile: unknown }>('HeapProfiler.stopSampling').then(({ profile }) => {
        const file = join(process.cwd(), `heap-${process.pid}-${++written}.json`)
        writeFileSync(file, JSON.stringify(profile))
        process.stderr.write(`heap profile written: ${file}\n`)
      })
    : post('HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }).then(() => {
        process.stderr.write('heap sampling started\n')
      })
  sampling = !sampling
  step.catch((e: unknown) => process.stderr.write(`heap sampler: ${String(e)}\n`))
})
