import { expect } from 'vitest'
import { ConfigError } from '../../src/errors.js'

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
