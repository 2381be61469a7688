/**
 * A SIGTERM that reaches `serve` while it starts, as PID 1 of its own PID namespace (a
 * container's entrypoint, `unshare --pid`): it drains once the process serves, exit 0. Before,
 * no handler existed yet, and the kernel drops a signal without a handler sent to a namespace's
 * init: the gateway started serving and waited for SIGKILL (exit 137 at the end of the pod's
 * termination grace period). The start is held on a config file that is a FIFO, which `serve`
 * blocks reading until the test writes the config into it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientTls, createTestPki, type TestPki } from '../support/pki.js'
import { startMtlsServer, type RunningServer } from '../support/tls-server.js'
import { endpointYaml } from '../support/gateway.js'
import { exitedOf, MAIN } from '../support/process.js'
import { eventually } from './helpers.js'
import { sendSignal } from '../support/signals.js'

let pki: TestPki
let upstream: RunningServer
let yaml: string

beforeAll(async () => {
  pki = await createTestPki()
  upstream = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  yaml = `listen: { host: 127.0.0.1, port: 0 }\nadmin: { port: 0 }\ndrain: { grace: 20s }\nendpoints:\n${endpointYaml('partner', upstream.port, clientTls(pki))}`
})
afterAll(async () => {
  await upstream?.close()
  pki?.cleanup()
})

/** The only child of `pid` (unshare --fork's: the gateway, PID 1 of the new namespace). */
const childOf = (pid: number): number | undefined => Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || undefined

/** Whether process `pid` is blocked opening a FIFO no one writes to. */
const waitsOnFifo = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'utf8') === 'wait_for_partner'
  } catch {
    return false
  }
}

async function signalledWhileStarting(workers: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const fifo = join(pki.dir, `gateway-${workers}-${signal}.yaml`)
  execFileSync('mkfifo', [fifo])
  const child: ChildProcess = spawn('unshare', ['--pid', '--fork', '--kill-child', process.execPath, MAIN, 'serve', '--config', fifo, '--workers', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] })
  // Whole lines (a read may end inside one), read to the end before the exit is judged: a quick
  // drain's last lines are written as the process exits, and 'exit' can come before they are read.
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream! }).on('line', (line) => void (line && output.push(line)))
  const exit = exitedOf(child)
  let feeding = true
  try {
    // The gateway is blocked opening the FIFO (no writer yet): its config is not read, no handler of its own runs.
    const gateway = await eventually(() => {
      const pid = childOf(child.pid as number)
      return pid !== undefined && waitsOnFifo(pid) && pid
    }, 30_000, 'the gateway to wait on its config')
    sendSignal(gateway, signal, child.pid)
    // Every read of the config gets it once (a primary reads it more than once): written whenever the gateway waits to open it.
    void (async () => {
      while (feeding) {
        await eventually(() => !feeding || waitsOnFifo(gateway), 60_000, 'the next read of the config').catch(() => undefined)
        if (feeding) await writeFile(fifo, yaml).catch(() => undefined)
      }
    })()
    if (signal === 'SIGHUP') {
      // A reload once it serves, then a drain as usual.
      await eventually(() => output.some((l) => l.includes('"trigger":"SIGHUP"') && l.includes('"config reloaded"')), 30_000, 'the reload the SIGHUP asked for')
      sendSignal(gateway, 'SIGTERM')
    }
    expect(await exit, output.join('\n')).toBe(0)
    expect(output.some((l) => l.includes('"draining'))).toBe(true)
  } finally {
    feeding = false
    child.kill('SIGKILL')
    // Unblocks a writer still waiting for a reader.
    try {
      writeFileSync(fifo, '', { flag: 'r+' })
    } catch {
      // nothing waits
    }
  }
}

describe('a SIGTERM while serve starts, to PID 1 of a PID namespace', () => {
  it('drains once the one process serves: exit 0', async () => {
    await signalledWhileStarting(1)
  })

  it('drains once the --workers primary serves: exit 0', async () => {
    await signalledWhileStarting(2)
  })

  it('a SIGHUP while the one process starts reloads once it serves (as a --workers primary does)', async () => {
    await signalledWhileStarting(1, 'SIGHUP')
  })
})
