/**
 * Problems found in a loaded config after the load (its bundles, keys, store, listeners, a
 * reload's restart-only keys) placed as the loader's own are: `file:line:column: key: msg`, at
 * the line of the key they name in the config file. One mechanism for every such problem, so
 * `check`, a start, a refused reload and the console's draft validator say the same words.
 */
import { ConfigError, type ConfigProblem } from '../errors.js'
import { concealSecretValues } from './references.js'
import { parseKeyPath, type YamlSource } from './yaml-source.js'
import type { GatewayConfig } from './types.js'

/** The text each loaded config came from (no shape change to the config). */
const sources = new WeakMap<GatewayConfig, YamlSource>()

/** Remembers where `config` was read from: the loader calls it once per loaded config. */
export function rememberConfigSource(config: GatewayConfig, source: YamlSource): void {
  sources.set(config, source)
}

/** The config as its file wrote it (before references and defaults), undefined for one not loaded from text. */
export function writtenConfig(config: GatewayConfig): unknown {
  return sources.get(config)?.value
}

/**
 * `problems` found in `config` after it was loaded, each naming a key of it, placed at that key's
 * line and column in the config file (YamlSource.placement). A problem of another file the key names (a PEM, a key file) keeps that file's name,
 * in front of its message unless the message names it already. Values from `${env:}`/`${file:}` show as their references.
 */
export function placeConfigProblems(config: GatewayConfig, problems: readonly ConfigProblem[]): ConfigProblem[] {
  const source = sources.get(config)
  return concealSecretValues(problems, config.references).map((p) => {
    if (source === undefined || p.line > 0 || p.key === '') return p
    const msg = p.file === config.file || p.msg.includes(p.file) ? p.msg : `${p.file}: ${p.msg}`
    return Object.assign({}, p, { file: config.file, msg }, source.placement(parseKeyPath(p.key)))
  })
}

/** One problem at `key` of `config`, placed. */
export function configProblem(config: GatewayConfig, key: string, msg: string): ConfigProblem {
  return placeConfigProblems(config, [{ file: config.file, line: 0, column: 0, key, msg }])[0] as ConfigProblem
}

/** Where a check of a loaded config collects its problems, each placed as it is added. */
export interface ConfigProblems {
  readonly list: ConfigProblem[]
  add(problems: readonly ConfigProblem[]): void
  /** `build()`, or undefined when it throws a ConfigError (its problems are added). */
  collect<T>(build: () => T): T | undefined
}

/** `build()`; a ConfigError it throws, its problems placed (the OTLP exporter's TLS files renewed at a reload). */
export function withPlacedProblems<T>(config: GatewayConfig, build: () => T): T {
  const problems = collectConfigProblems(config)
  const value = problems.collect(build)
  if (problems.list.length > 0) throw new ConfigError(problems.list)
  return value as T
}

/** An empty collection for `config`'s problems. */
export function collectConfigProblems(config: GatewayConfig): ConfigProblems {
  const list: ConfigProblem[] = []
  const add = (problems: readonly ConfigProblem[]): void => void list.push(...placeConfigProblems(config, problems))
  return {
    list,
    add,
    collect(build) {
      try {
        return build()
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e
        add(e.problems)
        return undefined
      }
    },
  }
}
