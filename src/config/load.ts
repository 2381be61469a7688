/**
 * gateway.yaml → validated, normalised, frozen GatewayConfig. Every problem names the
 * file, line, column and key path; all problems are reported at once.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createRequire } from 'node:module'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { ConfigError, type ConfigProblem } from '../errors.js'
import { CONFIG_VALIDATOR_CODE, CONFIG_VALIDATOR_PARAMETERS } from './config-validator.js'
import { concealReferences, resolveReferences } from './references.js'
import { normalizeConfig } from './normalize.js'
import { formatKeyPath, YamlSource, type KeyPath } from './yaml-source.js'
import { rememberConfigSource } from './placed-problems.js'
import { unknownKey } from './near-key.js'
import { durationHint, pastMaximum, typeMismatch } from './type-hint.js'
import { formatDuration, isDuration, parseDuration, plainNumber } from './units.js'
import { recordConfigFileReads, snapshotConfigFiles, type ConfigFileSnapshot } from './file-snapshot.js'
import type { GatewayConfig } from './types.js'

let validator: WeakRef<ValidateFunction> | undefined

/**
 * The schema's validator (Ajv's code from the build: validator-source.ts, `npm run schema`), made a function at a config
 * read (40–100 ms; `pki` and other importers of config/ read none) and held weakly: kept for a process's life it was 1.4 MB
 * that every mark-compact marked (docs/performance.md, session 48). Exported for test/config/validator-standalone.test.ts.
 */
export function configValidator(): ValidateFunction {
  const make = (): ValidateFunction => (new Function(...CONFIG_VALIDATOR_PARAMETERS, CONFIG_VALIDATOR_CODE) as (req: NodeJS.Require, within: typeof withinDuration) => ValidateFunction)(createRequire(import.meta.url), withinDuration)
  const made = validator?.deref() ?? make()
  validator = new WeakRef(made)
  return made
}

/** The schema's `maxDuration` keyword: a duration's maximum (schema-operations.ts's boundedDuration). A value that is no duration is left to the anyOf beside it. */
function withinDuration(data: unknown, bound: DurationBound): boolean {
  return !isDuration(data) || parseDuration(data) <= parseDuration(bound.max)
}

/** The value of the schema's `maxDuration`: the longest value and why. */
type DurationBound = { max: string; why: string }

/** A config as read once: its text and the bytes of every file it references (what a `--workers` primary relays). */
export interface ConfigSource {
  text: string
  files: ConfigFileSnapshot
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv
}

/** Reads and validates a config file; throws ConfigError listing every problem. */
export function loadConfig(file: string, options: LoadConfigOptions = {}): GatewayConfig {
  return loadConfigText(file, options).config
}

/**
 * loadConfig, with the text it validated and the bytes of every file the config references: those
 * it parsed (`${file:}`) as it read them, the rest right after. The source a `--workers` primary
 * judges and hands its workers, which build from it, not from disk.
 */
export function loadConfigText(file: string, options: LoadConfigOptions = {}): ConfigSource & { config: GatewayConfig } {
  const abs = resolve(file)
  let text: string
  try {
    text = readFileSync(abs, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error'
    throw new ConfigError([{ file: abs, line: 0, column: 0, key: '', msg: `cannot read config file: ${code}` }])
  }
  const { value: config, read } = recordConfigFileReads(() => parseConfig(abs, text, options))
  return { config, text, files: snapshotConfigFiles(config.files, read) }
}

/** Validates config text that claims to come from `file` (relative paths resolve from its folder). */
export function parseConfig(file: string, text: string, options: LoadConfigOptions = {}): GatewayConfig {
  const source = new YamlSource(file, text)
  if (source.problems.length > 0) throw new ConfigError(source.problems)
  if (source.value === null || typeof source.value !== 'object' || Array.isArray(source.value)) {
    const msg = source.value === null || source.value === undefined ? 'the config is empty (or only comments): it needs at least endpoints:' : 'the config must be a YAML mapping'
    throw new ConfigError([{ file, line: 1, column: 1, key: '', msg }])
  }
  const refs = resolveReferences(source.value, dirname(file), options.env ?? process.env)
  // Problems may quote a value; one from `${env:}` or `${file:}` (a key, a password) shows as its reference.
  const concealed = (problems: readonly ConfigProblem[]): ConfigError =>
    new ConfigError(
      problems.map((p) => Object.assign({}, p, { msg: concealReferences(p.msg, refs.references) })),
      { files: [file, ...refs.files] },
    )
  const problems: ConfigProblem[] = refs.problems.map((p) => source.problem(p.path, p.msg))
  const validate = configValidator()
  if (!validate(refs.value)) {
    problems.push(...emptiedByReferences(schemaProblems(validate.errors ?? [], source), refs.emptied))
  }
  if (problems.length > 0) throw concealed(problems)
  let config: GatewayConfig
  try {
    config = normalizeConfig(refs.value, { file, secrets: refs.secrets, references: refs.references, files: refs.files, source })
  } catch (e) {
    throw e instanceof ConfigError ? concealed(e.problems) : e
  }
  rememberConfigSource(config, source)
  return deepFreeze(config)
}

/**
 * A value a reference left empty that the schema refuses: named as the empty reference, not as
 * the schema's `must NOT have fewer than 1 characters`; nothing more when a problem already names
 * the missing one.
 */
function emptiedByReferences(problems: ConfigProblem[], emptied: readonly { path: KeyPath; msg: string | undefined }[]): ConfigProblem[] {
  const byKey = new Map(emptied.map((e) => [formatKeyPath(e.path), e.msg]))
  return problems.flatMap((p) => {
    if (!byKey.has(p.key)) return [p]
    const msg = byKey.get(p.key)
    return msg === undefined ? [] : [{ ...p, msg }]
  })
}

function pathOf(instancePath: string): (string | number)[] {
  if (instancePath === '') return []
  return instancePath
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p))
}

/** The value at `path` of a parsed tree, undefined when there is none. */
function valueAt(tree: unknown, path: KeyPath): unknown {
  let node = tree
  for (const part of path) node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[part] : undefined
  return node
}

function schemaProblems(errors: ErrorObject[], source: YamlSource): ConfigProblem[] {
  // anyOf failures repeat once per branch; keep a single, readable line per value.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath))
  const seen = new Set<string>()
  const out: ConfigProblem[] = []
  for (const e of errors) {
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue
    const path: KeyPath = pathOf(e.instancePath)
    const { key, msg, atKey } = describe(e, path, valueAt(source.value, path))
    const p = source.problem(key, msg, atKey)
    const id = `${p.key}|${p.msg}`
    if (!seen.has(id)) out.push(p)
    seen.add(id)
  }
  return out
}

function describe(e: ErrorObject, path: KeyPath, written: unknown): { key: KeyPath; msg: string; atKey: boolean } {
  const params = e.params as Record<string, unknown>
  switch (e.keyword) {
    case 'additionalProperties':
      return { key: [...path, String(params.additionalProperty)], msg: unknownKey(String(params.additionalProperty), e.parentSchema, path), atKey: true }
    case 'type':
      return { key: path, msg: typeMismatch(String(params.type), e.data, written), atKey: false }
    case 'required':
      return { key: [...path, String(params.missingProperty)], msg: 'is required', atKey: false }
    case 'enum':
      return { key: path, msg: `must be one of ${(params.allowedValues as unknown[]).join(', ')}`, atKey: false }
    case 'anyOf': {
      const kind = (e.parentSchema as { $comment?: string } | undefined)?.$comment ?? ''
      const hint = kind === 'duration' ? durationHint(written) : undefined
      return { key: path, msg: `invalid value: expected ${EXPECTED[kind] ?? 'another type'}${hint === undefined ? '' : `; ${hint}`}`, atKey: false }
    }
    case 'maxDuration': {
      const { max, why } = e.schema as DurationBound
      // A number is milliseconds: the maximum in milliseconds too, to compare it with.
      const inMs = typeof e.data === 'number' ? ` (${plainNumber(parseDuration(max))} ms)` : ''
      return { key: path, msg: `${formatDuration(e.data as number | string)} is longer than the maximum, ${max}${inMs}: ${why}`, atKey: false }
    }
    case 'maximum':
      return { key: path, msg: pastMaximum(e.data as number, params.limit as number, e.parentSchema as { maximumWhy?: string } | undefined), atKey: false }
    case 'pattern': {
      const kind = (e.parentSchema as { $comment?: string } | undefined)?.$comment ?? ''
      return { key: path, msg: EXPECTED[kind] ? `must be ${EXPECTED[kind]}` : `must match ${String(params.pattern)}`, atKey: false }
    }
    default:
      return { key: path, msg: e.message ?? 'invalid', atKey: false }
  }
}

const EXPECTED: Record<string, string> = {
  duration: 'a duration such as 250ms, 5s, 2m, 1h, or a number of milliseconds',
  size: 'a size such as 512KiB, 10MiB, 1GiB, or a number of bytes',
  'file-list': 'a file path or a list of file paths',
  'header-name': "a header name: letters, digits and !#$%&'*+-.^_`|~ only",
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const item of Object.values(v)) deepFreeze(item)
  }
  return v
}
