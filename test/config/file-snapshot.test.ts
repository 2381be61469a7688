/** The referenced-file snapshot a `--workers` primary hands its workers: pinned bytes win over the disk until unpinned. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pinConfigFiles, readConfigFile, snapshotConfigFiles } from '../../src/config/index.js'

const dir = mkdtempSync(join(tmpdir(), 'file-snapshot-'))
afterEach(() => pinConfigFiles(undefined))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

describe('config file snapshot', () => {
  it('serves the snapshot bytes of its files while pinned, the disk otherwise and after unpinning', () => {
    const a = join(dir, 'a.pem')
    const other = join(dir, 'other.pem')
    writeFileSync(a, Buffer.from([0, 1, 2, 255]))
    writeFileSync(other, 'other')
    const snap = snapshotConfigFiles([a, join(dir, 'missing')])
    pinConfigFiles(snap)
    writeFileSync(a, 'new bytes')
    expect([...readConfigFile(a)]).toEqual([0, 1, 2, 255])
    expect(readConfigFile(other, 'utf8')).toBe('other')
    expect(() => readConfigFile(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    pinConfigFiles(undefined)
    expect(readConfigFile(a, 'utf8')).toBe('new bytes')
  })
})
