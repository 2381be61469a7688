/** Writes config/gateway.schema.json, docs/config-reference.md, the config validator's code and the chart's values.schema.json from the schema source. */
import { readFileSync, writeFileSync } from 'node:fs'
import { renderConfigReference, renderSchemaJson } from '../src/config/reference.js'
import { CONFIG_VALIDATOR_FILE, renderConfigValidator } from '../src/config/validator-source.js'
import { renderChartValuesSchema } from './chart-schema.js'

const CHART_SCHEMA = 'helm/mtls-gateway/values.schema.json'
writeFileSync('config/gateway.schema.json', renderSchemaJson())
writeFileSync('docs/config-reference.md', renderConfigReference())
writeFileSync(CONFIG_VALIDATOR_FILE, renderConfigValidator())
writeFileSync(CHART_SCHEMA, renderChartValuesSchema(readFileSync(CHART_SCHEMA, 'utf8')))
process.stdout.write(`wrote config/gateway.schema.json, docs/config-reference.md, ${CONFIG_VALIDATOR_FILE} and ${CHART_SCHEMA}\n`)
