/** TLS: client bundles, secure contexts, server identity, handshake error table, minting. */
export { loadBundle, type Bundle, type BundleProblem, type LoadedBundle } from './bundle.js'
export { buildChain, notAfter, notBefore, oneLine, parseCertificates } from './chain.js'
export { createClientContext } from './context.js'
export { classifyUpstreamError, isHandshakeReason, VERIFY_CODES } from './handshake-errors.js'
export { makeServerIdentityCheck, spkiPin } from './verify.js'
export { generateKeys, issueCertificate, privateKeyPem, type Issued, type IssueOptions, type KeyFormat, type KeyKind } from './pki.js'
export { writeDevPki, writeInterceptionCa, type DevPkiFiles, type DevPkiOptions } from './dev-pki.js'
export { checkInterceptionCa, createInterceptionCa, createMinter, type Minter, type MinterOptions } from './mint.js'
