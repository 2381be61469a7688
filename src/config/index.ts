/** Config: gateway.yaml → validated, frozen GatewayConfig. */
export { loadConfig, parseConfig, type LoadConfigOptions } from './load.js'
export { configSchema } from './schema.js'
export { bundleFiles } from './normalize.js'
export { parseDuration, parseSize } from './units.js'
export { formatKeyPath } from './yaml-source.js'
export { parseTemplate, renderTemplate, type Template, type TemplatePart, type TemplateScope } from './template.js'
export type * from './types.js'
