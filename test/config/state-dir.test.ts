/** Where the SQLite store goes when the config does not say: beside the config, or the state folder. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/index.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-state-dir-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'gateway.yaml')
writeFileSync(file, 'listen:\n  port: 8080\nendpoints: []\n')
const saved = process.env.MTLS_GATEWAY_STATE_DIR

afterEach(() => {
  if (saved === undefined) delete process.env.MTLS_GATEWAY_STATE_DIR
  else process.env.MTLS_GATEWAY_STATE_DIR = saved
})

describe('store.file default', () => {
  it('is data/gateway.db beside the config file without MTLS_GATEWAY_STATE_DIR', () => {
    delete process.env.MTLS_GATEWAY_STATE_DIR
    expect(loadConfig(file).store.file).toBe(join(dir, 'data/gateway.db'))
  })

  it('is gateway.db in MTLS_GATEWAY_STATE_DIR when set (the image sets it to its volume)', () => {
    process.env.MTLS_GATEWAY_STATE_DIR = '/var/lib/mtls-gateway'
    expect(loadConfig(file).store.file).toBe('/var/lib/mtls-gateway/gateway.db')
  })

  it('an explicit store.file wins over MTLS_GATEWAY_STATE_DIR', () => {
    process.env.MTLS_GATEWAY_STATE_DIR = '/var/lib/mtls-gateway'
    const explicit = join(dir, 'explicit.yaml')
    writeFileSync(explicit, 'listen:\n  port: 8080\nendpoints: []\nstore:\n  file: mine.db\n')
    expect(loadConfig(explicit).store.file).toBe(join(dir, 'mine.db'))
  })
})
