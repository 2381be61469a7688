/**
 * Writes config/gateway.schema.json, docs/config-reference.md, the config validator's code and
 * the chart's values.schema.json from the schema source. A file whose text is already what it
 * would write is left untouched: rewriting the validator's source would make dist/ look older
 * than src/ and stop the process-starting tests until the next build.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { renderConfigReference, renderSchemaJson } from '../src/config/reference.js'
import { CONFIG_VALIDATOR_FILE, renderConfigValidator } from '../src/config/validator-source.js'
import { renderChartValuesSchema } from './chart-schema.js'

const CHART_SCHEMA = 'helm/mtls-gateway/values.schema.json'

/** Writes `text` to `file` unless the file already holds it; says whether it wrote. */
function writeChanged(file: string, text: string): boolean {
  let old: string | undefined
  try {
    old = readFileSync(file, 'utf8')
  } catch {
    old = undefined
  }
  if (old === text) return false
  writeFileSync(file, text)
  return true
}

const outputs: [string, string][] = [
  ['config/gateway.schema.json', renderSchemaJson()],
  ['docs/config-reference.md', renderConfigReference()],
  [CONFIG_VALIDATOR_FILE, renderConfigValidator()],
  [CHART_SCHEMA, renderChartValuesSchema(readFileSync(CHART_SCHEMA, 'utf8'))],
]
const written = outputs.filter(([file, text]) => writeChanged(file, text)).map(([file]) => file)
process.stdout.write(written.length === 0 ? 'schema outputs already current: nothing written\n' : `wrote ${written.join(', ')}\n`)
