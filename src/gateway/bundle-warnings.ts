/**
 * What a config's endpoint bundles hold that their client chains do not use
 * (unusedChainCertificates), and a client certificate some backends refuse and others take
 * (anyExtendedKeyUsage without clientAuth: loadBundle's warnings): warnings, in the same words
 * wherever they are said — printed by `check` without failing it, shown by the console's draft
 * validator, logged when a start or an accepted reload adopts the config.
 */
import { placeConfigProblems, type EndpointTlsConfig, type GatewayConfig } from '../config/index.js'
import type { ConfigProblem } from '../errors.js'
import { loadBundle, unusedChainCertificates } from '../tls/index.js'

/** Every such certificate of every endpoint's bundle (its tenants' included), at its config key. */
export function bundleWarnings(config: GatewayConfig): ConfigProblem[] {
  const out: ConfigProblem[] = []
  for (const ep of config.endpoints) {
    const bundles: [string, string, EndpointTlsConfig][] = [
      [`endpoints[${ep.index}].tls`, `endpoint "${ep.name}"`, ep.tls],
      ...Object.entries(ep.tenants).map(([t, tls]): [string, string, EndpointTlsConfig] => [`endpoints[${ep.index}].tenants.${t}.tls`, `endpoint "${ep.name}" tenant "${t}"`, tls]),
    ]
    for (const [keyBase, label, tls] of bundles) {
      for (const w of [...loadBundle(tls).warnings, ...unusedChainCertificates(tls)]) out.push({ file: w.file, line: 0, column: 0, key: `${keyBase}.${w.field}`, msg: `${label}: ${w.msg}` })
    }
  }
  return placeConfigProblems(config, out)
}
