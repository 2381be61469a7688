/**
 * The real headless Chromium (Debian package) the browser tests drive with playwright-core:
 * one path and one set of flags. Background networking, sync, component updates and QUIC are off
 * because this machine's closed network refuses those connections, many at a time.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { START_DEADLINE_MS } from './eventually.js'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Throws a clear message when the Debian package is missing. */
export function assertChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-peers.sh (Debian package chromium)`)
}

/** Launches headless Chromium (no profile directory kept), with `extraArgs` after the usual flags; playwright's 30 s launch deadline is short for a loaded machine. */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  assertChromium()
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true, timeout: START_DEADLINE_MS })
}
