/**
 * A TCP destination that never answers a connect, without leaving loopback: a python3 socket
 * listening with a backlog of 0 that never accepts, its one queue place taken by a connection of
 * our own. With the accept queue full the kernel drops every further SYN, so a dial to it hangs
 * like one to a black-holed address (SYN retries for about two minutes). /proc/net/tcp shows
 * the dials in progress (SYN_SENT), so a test can wait for one to start or to be given up.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'

/** A destination whose accept queue is full. */
export interface SilentListener {
  readonly port: number
  /** Sockets of this machine (this network namespace) dialling it right now: state SYN_SENT. */
  dialling(): number
  close(): Promise<void>
}

// Listens, says its port, and holds the socket until its stdin closes; never accepts.
const SCRIPT = [
  'import socket, sys',
  's = socket.socket()',
  "s.bind(('127.0.0.1', 0))",
  's.listen(0)',
  'print(s.getsockname()[1], flush=True)',
  'sys.stdin.read()',
].join('\n')

/** Starts the listener and fills its queue; resolves once a connection of ours holds the one place. */
export async function startSilentListener(): Promise<SilentListener> {
  const child = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`python3 exited (${code}) before listening`)))
  })
  const filler: Socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => filler.once('connect', resolve).once('error', reject))
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  return {
    port,
    dialling: () =>
      ['/proc/net/tcp', '/proc/net/tcp6']
        .flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1))
        .map((l) => l.trim().split(/\s+/))
        // Fields: sl, local address, remote address, state (02: SYN_SENT).
        .filter((f) => f[2]?.endsWith(`:${hexPort}`) && f[3] === '02').length,
    async close() {
      filler.destroy()
      const exited = new Promise((r) => child.once('exit', r))
      child.stdin.end()
      await exited
    },
  }
}
