/**
 * `npm run schema` on a tree whose generated files are current writes nothing: rewriting the
 * config validator's source (same text, new time) made dist/ look older than src/, and every
 * test that starts a gateway process then refused to run until the next build.
 */
import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONFIG_VALIDATOR_FILE } from '../../src/config/validator-source.js'

const ROOT = join(import.meta.dirname, '../..')
const OUTPUTS = ['config/gateway.schema.json', 'docs/config-reference.md', CONFIG_VALIDATOR_FILE, 'helm/mtls-gateway/values.schema.json']

describe('the schema generator', () => {
  it('leaves current outputs untouched (same modification times) and says so', () => {
    const before = OUTPUTS.map((f) => statSync(join(ROOT, f)).mtimeMs)
    const out = execFileSync(process.execPath, [join(ROOT, 'dist/scripts/gen-schema.js')], { cwd: ROOT, encoding: 'utf8' })
    expect(out).toBe('schema outputs already current: nothing written\n')
    expect(OUTPUTS.map((f) => statSync(join(ROOT, f)).mtimeMs)).toEqual(before)
  })
})
