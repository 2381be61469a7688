/**
 * What the first seconds after an idle spell cost (`--idle S`): a fresh floor and production
 * gateway, warmed, left idle for S seconds while the load generator keeps itself busy on the
 * direct path (so only the proxies were idle), then each driven in turn at a fixed rate in 1 s
 * windows (--idle-window; shorter under --quick). A fixed rate, not a closed loop: a slow window then cannot starve the next one of
 * requests, so each window's CPU per request is the process's own state. Each window is read
 * against the path's settled cost (the median of its last three windows).
 */
import { paced, type Target } from './load.js'
import { prewarm, upstreamAccepts } from './measure.js'
import { median } from './report.js'
import { setupPaths, type PathName, type PathSetup, type Processes } from './paths.js'
import { startForwarder, startProdGateway, type GatewayRun } from './gateways.js'
import type { BenchPki } from './pki.js'
import type { Upstream } from './peers.js'
import { cpuMicros, startTogether, type Proc } from './procs.js'

/** The windows after the idle spell of one path. */
export interface IdleRow {
  path: PathName
  idleSeconds: number
  rate: number
  /** Length of each window (--idle-window; 1 s unless --quick). */
  windowMs: number
  /** CPU µs per request in each window, in order. */
  windowsUs: number[]
  /** The median of the last three windows. */
  settledUs: number
  /** Each window against settledUs. */
  vsSettled: number[]
  /** New connections the upstream accepted in each window: a pool whose keep-alive ran out during the spell reconnects. */
  upstreamConnections: number[]
  /** Answers other than 200, and transport errors, over all windows. */
  errors: number
}

/** The paths measured: the floor beside the realistic path, the one with the most code to re-tier. */
export const IDLE_PATHS: readonly PathName[] = ['undici_forwarder', 'gateway_realistic']

/** A row from one path's windows (exported for the tests). */
export function idleRow(path: PathName, idleSeconds: number, rate: number, windows: readonly { us: number; opened: number }[], errors: number, windowMs = 1000): IdleRow {
  const windowsUs = windows.map((w) => w.us)
  const settledUs = median(windowsUs.slice(-3))
  return { path, idleSeconds, rate, windowMs, windowsUs, settledUs, vsSettled: windowsUs.map((w) => w / settledUs), upstreamConnections: windows.map((w) => w.opened), errors }
}

async function window(t: Target, pid: number, users: number, rate: number, ms: number, statusPort: number): Promise<{ us: number; opened: number; errors: number }> {
  const a0 = await upstreamAccepts(statusPort)
  const c0 = cpuMicros(pid)
  const r = await paced(t, users, rate, ms)
  const c1 = cpuMicros(pid)
  // Less the status request's own connection.
  const opened = (await upstreamAccepts(statusPort)) - a0 - 1
  return { us: (c1 - c0) / Math.max(1, r.requests), opened, errors: r.errors + r.mismatches + (r.requests - (r.statuses[200] ?? 0)) }
}

async function drive<T>(setup: PathSetup, users: number, body: (t: Target) => Promise<T>): Promise<T> {
  const t = setup.target('empty', users)
  try {
    return await body(t)
  } finally {
    await t.dispatcher.destroy()
  }
}

/** Warms each path for `warmMs`, idles `idleSeconds`, then `windows` windows of `windowMs` at `rate` per path in turn. */
export async function idleBurst(dir: string, pki: BenchPki, upstream: Upstream, nginx: Processes['nginx'], run: GatewayRun, users: number, rate: number, idleSeconds: number, windows: number, windowMs: number, warmMs: number): Promise<IdleRow[]> {
  const args: GatewayRun = { ...run, tag: `${run.tag ?? ''}-idle` }
  const procs: Proc[] = []
  try {
    const [prod, forwarder] = await startTogether(procs, [() => startProdGateway(dir, pki, upstream, args), () => startForwarder(dir, pki, upstream, args)])
    // Only the floor and prod are driven; bare is prod too, so that setupPaths has every process it names.
    const setups = setupPaths(pki, { upstream, nginx, bare: prod, prod, forwarder })
    const direct = setups.direct as PathSetup
    for (const path of IDLE_PATHS) await prewarm(setups[path] as PathSetup, 'empty', users, warmMs)
    // The generator stays hot on the direct path (a light load) while the proxies sit idle.
    await drive(direct, users, (t) => paced(t, users, Math.max(50, rate / 10), idleSeconds * 1000))
    const rows: IdleRow[] = []
    for (const path of IDLE_PATHS) {
      const setup = setups[path] as PathSetup
      const pid = (setup.proxy as Proc).pid
      // The generator back at the windows' rate for one window's length first.
      await drive(direct, users, (t) => paced(t, users, rate, windowMs))
      const got = await drive(setup, users, async (t) => {
        const ws: { us: number; opened: number; errors: number }[] = []
        for (let i = 0; i < windows; i++) ws.push(await window(t, pid, users, rate, windowMs, upstream.statusPort))
        return ws
      })
      rows.push(idleRow(path, idleSeconds, rate, got, got.reduce((n, w) => n + w.errors, 0), windowMs))
    }
    return rows
  } finally {
    await Promise.allSettled(procs.map((q) => q.stop()))
  }
}

/** The table: a row per path, a column per window (headed by when it ended; × the settled cost), then the upstream connections each window opened. */
export function idleMarkdown(rows: readonly IdleRow[]): string {
  if (rows.length === 0) return ''
  const n = Math.max(...rows.map((r) => r.windowsUs.length))
  const ms = rows[0]?.windowMs ?? 1000
  const lines = [`| path | settled µs/req | ${Array.from({ length: n }, (_, i) => `${((i + 1) * ms) / 1000} s`).join(' | ')} | upstream connections opened, per window |`, `|---|--:|${Array.from({ length: n }, () => '--:').join('|')}|---|`]
  for (const r of rows) lines.push(`| ${r.path} | ${r.settledUs.toFixed(0)} | ${r.vsSettled.map((x) => `${x.toFixed(2)} ×`).join(' | ')} | ${r.upstreamConnections.join(' ')} |`)
  return lines.join('\n') + '\n'
}
