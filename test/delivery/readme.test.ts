/**
 * Every shell block of README.md, run in order on a fresh copy of the repository, so each
 * command it shows works as written.
 *
 * The convention (for anyone adding a README section): the line before each ```sh / ```bash /
 * ```shell / ```console block is an HTML comment, invisible on GitHub, that this test reads:
 *   <!-- readme: run -->                  run the block; it must exit 0
 *   <!-- readme: skip — <reason> -->      do not run it; say why (illustrative, needs a provider…)
 * An unmarked shell block fails this test, naming its line. Other blocks (yaml, text, output
 * without a language) are not commands and are not run.
 *
 * How blocks run: `bash -euo pipefail` in a temporary copy of the tracked (and new, not ignored)
 * files, one after another in the same folder, so a later block sees what an earlier one built;
 * inside a loopback-only network namespace (`unshare --net`, root), so the fixed ports a README
 * uses (8080, 9090, 8443) never meet another test's servers; background jobs a block starts are
 * killed when it ends. `npm ci` is the one substitution: node_modules is a link to the suite's own
 * (installed from the same package-lock.json), because installing again takes minutes.
 */
import { execFileSync, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { signalGroup } from '../support/signals.js'

interface Block { line: number; lang: string; mark: 'run' | 'skip' | 'unmarked'; reason: string; code: string }

const COMMAND_LANGS = new Set(['sh', 'bash', 'shell', 'console'])
const MARK = /^<!--\s*readme:\s*(run|skip)\b\s*(?:[—–:-]\s*)?(.*?)\s*-->$/

/** The fenced blocks of a Markdown text with their marks (the non-blank line before the fence). */
export function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string)
    if (!open) continue
    let end = i + 1
    while (end < lines.length && !/^```\s*$/.test(lines[end] as string)) end++
    let prev = i - 1
    while (prev >= 0 && (lines[prev] as string).trim() === '') prev--
    const mark = MARK.exec((lines[prev] ?? '').trim())
    blocks.push({ line: i + 1, lang: open[1] ?? '', mark: mark ? (mark[1] as 'run' | 'skip') : 'unmarked', reason: mark?.[2] ?? '', code: lines.slice(i + 1, end).join('\n') })
    i = end
  }
  return blocks.filter((b) => COMMAND_LANGS.has(b.lang))
}

const README = readFileSync('README.md', 'utf8')
const blocks = readmeBlocks(README)
const isRoot = process.getuid?.() === 0
let work: string | undefined

/** A fresh copy: tracked files and new files that git does not ignore, as they are now. */
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-readme-'))
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' }).split('\0').filter(Boolean)
  for (const f of files) {
    if (!existsSync(f)) continue // deleted in the working tree
    mkdirSync(dirname(join(dir, f)), { recursive: true })
    cpSync(f, join(dir, f))
  }
  symlinkSync(resolve('node_modules'), join(dir, 'node_modules'))
  return dir
}

const PRELUDE = `ip link set lo up
set -euo pipefail
npm() { if [ "\${1:-}" = ci ]; then echo "(readme test: npm ci -> the suite's node_modules)"; else command npm "$@"; fi; }
trap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT
`

function runBlock(dir: string, code: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn('unshare', ['--net', 'bash', '-c', PRELUDE + code], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c))
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 4 * 60_000)
    child.on('close', (status) => {
      clearTimeout(timer)
      try {
        signalGroup(child, 'SIGKILL') // anything the block left behind
      } catch {
        // the group is already gone
      }
      resolvePromise({ code: status, output })
    })
  })
}

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('README.md', () => {
  it('marks every shell block run or skip (with a reason)', () => {
    expect(blocks.length).toBeGreaterThan(2)
    const unmarked = blocks.filter((b) => b.mark === 'unmarked').map((b) => `README.md:${b.line}: add <!-- readme: run --> or <!-- readme: skip — reason --> before this block`)
    expect(unmarked).toEqual([])
    const noReason = blocks.filter((b) => b.mark === 'skip' && b.reason.length < 10).map((b) => `README.md:${b.line}: a skip needs its reason`)
    expect(noReason).toEqual([])
  })

  it('the convention parser reads marks, languages and reasons', () => {
    const parsed = readmeBlocks('<!-- readme: run -->\n```sh\necho a\n```\n\n<!-- readme: skip — needs a provider -->\n\n```bash\nx\n```\n```yaml\nk: v\n```\n```console\ny\n```\n')
    expect(parsed).toEqual([
      { line: 2, lang: 'sh', mark: 'run', reason: '', code: 'echo a' },
      { line: 8, lang: 'bash', mark: 'skip', reason: 'needs a provider', code: 'x' },
      { line: 14, lang: 'console', mark: 'unmarked', reason: '', code: 'y' },
    ])
  })

  describe.skipIf(!isRoot)('runs the marked blocks on a fresh copy (root: network namespace)', () => {
    for (const b of blocks.filter((x) => x.mark === 'run')) {
      it(`README.md:${b.line}: ${(b.code.split('\n')[0] ?? '').slice(0, 60)}`, async () => {
        work ??= freshCopy()
        const r = await runBlock(work, b.code)
        expect(r.code, `README.md:${b.line} failed:\n${r.output.slice(-4000)}`).toBe(0)
      }, 5 * 60_000)
    }
    for (const b of blocks.filter((x) => x.mark === 'skip')) it.skip(`README.md:${b.line}: not run — ${b.reason}`, () => undefined)
  })
})
