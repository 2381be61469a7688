/**
 * A command whose reader went away (`mtls-gateway pki dev | head -1`) ends quietly, like any
 * Unix tool: no "Unhandled 'error' event" stack trace on stderr for the write's EPIPE.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN } from '../support/process.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-cli-epipe-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the CLI with its stdout pipe closed by the reader before anything is written. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stderr }))
  })
}

describe('a closed stdout', () => {
  it.each([
    ['pki dev', ['pki', 'dev', '--dir', join(dir, 'dev')]],
    ['pki interception-ca', ['pki', 'interception-ca', '--dir', join(dir, 'ca')]],
    ['oauth1 sign', ['oauth1', 'sign', '--url', 'https://api.example.com/x', '--consumer-key', 'k', '--consumer-secret', 's']],
  ])('%s exits 0 without a stack trace', async (_name, args) => {
    const r = await runWithClosedStdout(args)
    expect(r.stderr).toBe('')
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null })
  })
})
