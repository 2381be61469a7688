import { expect } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { parseConfig } from '../../src/config/index.js'
import { checkConfig, compileGateway } from '../../src/gateway/index.js'

/** `key: msg` of each problem `f` throws as a ConfigError; fails the test when it throws nothing or something else. */
export function configProblems(f: () => unknown): string[] {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).problems.map((p) => `${p.key}: ${p.msg}`)
  }
  throw new Error('expected a ConfigError')
}

/** The lines (`file:line:column: key: msg`) of the ConfigError `f` throws, [] when it throws nothing; fails the test on any other error. */
export function configErrorLines(f: () => unknown): string[] {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).message.split('\n')
  }
  return []
}

/**
 * Every text (message, problem message, problem file) of the problems of loading `text` as `file`,
 * then, when it loads, of `check` (checkConfig) and of a start (compileGateway): what an operator
 * may ever be shown of it.
 */
export function problemTextsThroughStart(file: string, text: string, env: NodeJS.ProcessEnv): string[] {
  const texts = (e: unknown): string[] => {
    if (!(e instanceof ConfigError)) throw e
    return [e.message, ...e.problems.flatMap((p) => [p.msg, p.file])]
  }
  let config
  try {
    config = parseConfig(file, text, { env })
  } catch (e) {
    return texts(e)
  }
  const found = checkConfig(config).problems.flatMap((p) => [p.msg, p.file])
  try {
    compileGateway(config)
  } catch (e) {
    found.push(...texts(e))
  }
  return found
}
