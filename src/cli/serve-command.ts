/**
 * `mtls-gateway serve`: a `--workers` primary imports only what it runs (serve-primary.ts:
 * config, admin listener, worker pool, reloads, the console when on), never the request path;
 * one process and each worker import the gateway that serves (serve-process.ts).
 */
import cluster from 'node:cluster'
import type { LogFormat, LogLevel } from '../process/index.js'
import type { StartLine } from '../proxy/bind-listener.js'

export interface ServeCommandOptions {
  configFile: string
  port?: number
  /** Worker processes; 1 serves in this process, without a cluster. */
  workers: number
  logLevel: LogLevel
  logFormat: LogFormat
  /** With workers: how long a reload waits for each worker's answer, and a starting worker to serve (ms; default 30 s). */
  reloadTimeoutMs?: number
}

/** `serve`: one process, a cluster primary (workers > 1), or one of its workers; prints the ready lines. */
export async function runServe(o: ServeCommandOptions): Promise<void> {
  if (cluster.isPrimary && o.workers > 1) return (await import('./serve-primary.js')).servePrimary(o)
  return (await import('./serve-process.js')).serveProcess(o)
}

/** Prints a ready line ({msg: "listening" | "admin listening", url}) on stdout. */
export function announce(line: StartLine): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}
