/**
 * Ports for peers that must keep theirs across a restart or name one before they bind it (a
 * Redis Cluster node's port and its bus port). freePort() takes them from the kernel's ephemeral
 * range (32768-60999 here), the same range every outgoing connection's source port comes from:
 * between freePort()'s check and the peer's bind, or while a node is down for a restart, any
 * connection on the machine may be given that port and the bind fails. These come from
 * 20000-29999, which the kernel never hands out, each free when checked and claimed for the run
 * across the suite's worker processes (a file per port), so two workers never pick the same one.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FIRST = 20_000
const COUNT = 10_000
const CLAIMS = join(tmpdir(), 'mtlsgw-fixed-ports')
/** This process's claims, given back when it exits normally (a killed one leaves them: claim() takes those over). */
const mine = new Set<number>()
let next = -1

/** A port of 20000-29999 nothing listens on, claimed for this process (no other test process is given it). */
export async function fixedFreePort(): Promise<number> {
  mkdirSync(CLAIMS, { recursive: true })
  // Each process starts at its own place, so worker processes seldom try the same ports.
  if (next < 0) {
    next = (process.pid * 7_919) % COUNT
    process.once('exit', () => {
      for (const port of mine) rmSync(join(CLAIMS, String(port)), { force: true })
    })
  }
  for (let tried = 0; tried < COUNT; tried++) {
    const port = FIRST + (next++ % COUNT)
    if (!claim(port)) continue
    if (await bindable(port)) return port
  }
  throw new Error(`no free port in ${FIRST}-${FIRST + COUNT - 1}`)
}

/** Claims `port` for this process: a claim file holding its pid; one left by a process that is gone is taken over. */
function claim(port: number): boolean {
  const file = join(CLAIMS, String(port))
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' })
      mine.add(port)
      return true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      // Empty: its writer is between creating and writing it.
      const owner = readText(file)
      if (owner === '' || alive(Number(owner))) return false
      rmSync(file, { force: true })
    }
  }
  return false
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/** Whether process `pid` exists (EPERM: it does, another user's). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** True when 127.0.0.1:`port` can be listened on now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}
