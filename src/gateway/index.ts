/** The runtime snapshot: compiled endpoints, bundles and upstream pools. */
export { compileGateway, hostKeys, inspectEndpoints, type CompileOptions, type Endpoint, type EndpointReport, type Gateway, type Inspection } from './compile.js'
export { createConnector, createUpstream, type ConnectInfo, type Upstream, type UpstreamOptions } from './upstream.js'
export { endpointAuthority } from './endpoint-authority.js'
export { compileFields, compileProfiles, type CompiledField, type Profile } from './profiles.js'
export { fillProfileUrl, type DanceScope, type ProfileUrlKey } from './profile-urls.js'
export { compileCallers, type Callers, type CertificateApp } from './callers.js'
export { compileSealers, type Sealers } from './sealers.js'
export { checkLiteral, classifyAddress, createEgressLookup, EgressDeniedError, type EgressReason, type Resolve } from './egress.js'
