/**
 * How many TCP connections one process holds open to the upstream, read from /proc: its
 * socket file descriptors matched against the kernel's TCP tables. The bench compares the
 * count at the end of the warm-up with the count at the end of a measurement, so a new
 * upstream handshake can be told apart as the pool growing (more requests in flight than
 * during the warm-up) or as a connection replaced (one closed and another opened: churn).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** ESTABLISHED in /proc/net/tcp's `st` column. */
const ESTABLISHED = '01'

/**
 * The sockets in `tables` (the text of /proc/<pid>/net/tcp and tcp6) that are established,
 * connected to `remotePort`, and whose inode is in `inodes` (the process's own sockets).
 */
export function countConnections(tables: readonly string[], inodes: ReadonlySet<string>, remotePort: number): number {
  const port = remotePort.toString(16).toUpperCase().padStart(4, '0')
  let n = 0
  for (const table of tables) {
    for (const line of table.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
      const f = line.trim().split(/\s+/)
      const remote = f[2]
      const inode = f[9]
      if (remote === undefined || inode === undefined || f[3] !== ESTABLISHED) continue
      if (remote.slice(remote.indexOf(':') + 1) === port && inodes.has(inode)) n++
    }
  }
  return n
}

/** The inodes of a process's sockets (its fds that link to `socket:[inode]`). */
function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`)
    } catch {
      continue // closed between the listing and the read
    }
    const m = /^socket:\[(\d+)\]$/.exec(link)
    if (m?.[1] !== undefined) inodes.add(m[1])
  }
  return inodes
}

/** Established connections from process `pid` to 127.0.0.1:`remotePort` now. */
export function upstreamConnections(pid: number, remotePort: number): number {
  const tables = ['tcp', 'tcp6'].map((t) => {
    try {
      return readFileSync(`/proc/${pid}/net/${t}`, 'utf8')
    } catch {
      return ''
    }
  })
  return countConnections(tables, socketInodes(pid), remotePort)
}
