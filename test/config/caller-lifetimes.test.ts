/**
 * Bearers and anonymous users' entries live whole seconds (review rev-L2): `anonymousTtl: 0` made
 * the dance's anonymous TTL 0 (a TypeError, 500, at the dance's start) and a `bearerTtl` under
 * 1 s issued bearers already expired. Both are refused where the file is read, naming the key.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/index.js'
import { configErrorLines } from '../support/config-problems.js'

const dir = mkdtempSync(join(tmpdir(), 'mtlsgw-lifetimes-'))
const file = join(dir, 'gateway.yaml')
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const yaml = (callers: string): string => `callers:\n${callers}  apps: [{ clientId: bot, audience: gw, hs256Secret: "0123456789abcdef0123456789abcdef" }]\nendpoints: []\n`

const problemsOf = (text: string): string[] => configErrorLines(() => parseConfig(file, text, { env: {} }))

it.each([
  ['anonymousTtl', '0'],
  ['anonymousTtl', '500ms'],
  ['bearerTtl', '0'],
  ['bearerTtl', '999'],
])('callers.%s: %s is refused, naming the key', (key, value) => {
  const lines = problemsOf(yaml(`  ${key}: ${value}\n`))
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`callers\\.${key}: ${value} is less than 1 s`))
})

it.each([['anonymousTtl', '1s'], ['bearerTtl', '1000'], ['anonymousTtl', '30m']])('callers.%s: %s is accepted', (key, value) => {
  expect(problemsOf(yaml(`  ${key}: ${value}\n`))).toEqual([])
})
