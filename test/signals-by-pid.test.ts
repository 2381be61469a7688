/**
 * No test sends a signal by pid number itself: it goes through test/support/signals.ts, which
 * sends only to a process the test still holds (a child not yet exited, or a pid whose start time
 * is still the one recorded when the test took it). A number kept past its process's exit may name
 * another test's process by then (pid_max 32768, thousands of processes a run): CI once saw a
 * SIGSTOPped peer resumed by no test of its own. process.kill(pid, 0), a look that sends nothing,
 * stays allowed.
 */
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { testSources, walkAst, type AstNode } from './support/test-ast.js'

const ROOT = join(import.meta.dirname, '..')
const HELPER = 'test/support/signals.ts'

/** `process.kill` (also `process['kill']`, `(process as X).kill`) as a callee. */
function isProcessKill(callee: AstNode): boolean {
  if (callee.type !== 'MemberExpression' || !callee.object || !callee.property) return false
  let object: AstNode | undefined = callee.object
  while (object && (object.type === 'TSAsExpression' || object.type === 'TSNonNullExpression' || object.type === 'ParenthesizedExpression')) object = object.expression
  const name = callee.computed ? callee.property.value : callee.property.name
  return object?.type === 'Identifier' && object.name === 'process' && name === 'kill'
}

/** Every `process.kill(…)` in `source` whose signal is not the literal 0 (none given is SIGTERM). */
export function rawSignals(file: string, source: string): string[] {
  const found: string[] = []
  const lineOf = (offset: number): number => source.slice(0, offset).split('\n').length
  walkAst(file, source, (node) => {
    if (node.type === 'CallExpression' && node.callee && isProcessKill(node.callee)) {
      const sig = node.arguments?.[1]
      if (!(sig?.type === 'Literal' && sig.value === 0)) found.push(`${file}:${lineOf(node.start)}: ${source.slice(node.start).split('\n')[0]}`)
    }
  })
  return found
}

describe('signals by pid number', () => {
  it('finds the shapes it looks for (so the scan below can fail)', () => {
    const sample = [
      "process.kill(pid, 'SIGCONT')",
      'for (const w of workers) process.kill(w, signal)',
      "process.kill(-(child.pid as number), 'SIGKILL')",
      'process.kill(pid)',
      "process['kill'](pid, 'SIGSTOP')",
      "(process as NodeJS.Process).kill(pid, 'SIGHUP')",
      'process.kill(pid, 0)',
      "child.kill('SIGKILL')",
      "sendSignal(pid, 'SIGKILL')",
    ].join(';\n')
    expect(rawSignals('sample.ts', sample).map((l) => l.split(': ')[0])).toEqual(['sample.ts:1', 'sample.ts:2', 'sample.ts:3', 'sample.ts:4', 'sample.ts:5', 'sample.ts:6'])
  })

  it(`no file under test/ sends one but ${HELPER}`, () => {
    const found = testSources(join(ROOT, 'test'))
      .filter((path) => relative(ROOT, path) !== HELPER)
      .flatMap((path) => rawSignals(relative(ROOT, path), readFileSync(path, 'utf8')))
    expect(found).toEqual([])
  })
})
