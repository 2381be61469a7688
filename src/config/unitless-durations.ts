/**
 * A duration written as a bare number is milliseconds (`connect: 5` is 5 ms), as documented; but a
 * small one is almost always seconds meant (`5` for `5s`), and a 5 ms timeout fails every call.
 * Warned, never refused (a few milliseconds may be meant), by `check` and at each start and
 * accepted reload, at the value's line and column; a value written with a unit never is.
 */
import type { ConfigProblem } from '../errors.js'
import { placeConfigProblems, writtenConfig } from './placed-problems.js'
import { configSchema } from './schema.js'
import { formatKeyPath, type KeyPath } from './yaml-source.js'
import type { GatewayConfig } from './types.js'

/** Below this many milliseconds, a unitless duration is warned. */
export const UNITLESS_DURATION_WARN_BELOW_MS = 1000

interface SchemaNode {
  $comment?: string
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  additionalProperties?: SchemaNode | boolean
  anyOf?: readonly SchemaNode[]
}

/** The warning for one unitless duration `ms` (0 < ms < 1000). */
export const unitlessDurationMessage = (ms: number): string =>
  `${ms} is ${ms} milliseconds (a number without a unit is milliseconds): write ${ms}s if seconds were meant, or ${ms}ms to keep ${ms} milliseconds`

/** Every duration in `config`'s file written as a number from 1 to 999, placed at its value. */
export function unitlessDurationWarnings(config: GatewayConfig): ConfigProblem[] {
  const out: ConfigProblem[] = []
  visit(configSchema as SchemaNode, writtenConfig(config), [], (path, ms) => out.push({ file: config.file, line: 0, column: 0, key: formatKeyPath(path), msg: unitlessDurationMessage(ms) }))
  return placeConfigProblems(config, out)
}

function visit(node: SchemaNode, value: unknown, path: KeyPath, found: (path: KeyPath, ms: number) => void): void {
  if (node.$comment === 'duration') {
    if (typeof value === 'number' && value > 0 && value < UNITLESS_DURATION_WARN_BELOW_MS) found(path, value)
    return
  }
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    if (node.items) value.forEach((v, i) => visit(node.items as SchemaNode, v, [...path, i], found))
    return
  }
  for (const [key, v] of Object.entries(value)) {
    const child = node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined)
    if (child) visit(child, v, [...path, key], found)
  }
  // A value one of several shapes (a map or a list, say): each shape's durations.
  for (const branch of node.anyOf ?? []) if (branch.properties || branch.items || typeof branch.additionalProperties === 'object') visit(branch, value, path, found)
}
