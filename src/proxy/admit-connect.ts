/** Who may open a CONNECT tunnel: the listener's caller trust, then the gateway's callers (connect.ts). */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import type { PresentedCredential } from '../callers/index.js'
import type { Gateway } from '../gateway/index.js'
import { needsOneStoreWait, withOneStoreWait } from '../store/index.js'
import { admittedByCallerTrust, peerIdentity } from '../tls/index.js'
import type { Caller, CallerCertificate } from './pipeline.js'
import { identifyCaller, refuseUnlessLocal, type AdmitOptions } from './steps/authenticate-caller.js'
import { untrustedConnection } from './untrusted-connection.js'
import { callerAddress } from './caller-address.js'

/** The caller of a CONNECT under `gateway` (undefined: open gateway); throws the refusal its CONNECT would get. */
export function admitConnect(o: { admit: AdmitOptions }, gateway: Gateway, socket: Duplex, credential: PresentedCredential | undefined, certificate: CallerCertificate | undefined): Promise<Caller | undefined> {
  // The CONNECT's request (its tunnel's inner ones are their own): its store operations (with callers) share one wait (docs/store.md).
  return gateway.callers.enabled && needsOneStoreWait(gateway.config.store.kind) ? withOneStoreWait(admitCaller, o, gateway, socket, credential, certificate) : admitCaller(o, gateway, socket, credential, certificate)
}

async function admitCaller(o: { admit: AdmitOptions }, gateway: Gateway, socket: Duplex, credential: PresentedCredential | undefined, certificate: CallerCertificate | undefined): Promise<Caller | undefined> {
  if (!admittedByCallerTrust(socket)) throw untrustedConnection(socket, 'listen.tls')
  const callers = gateway.callers
  if (!callers.enabled) refuseUnlessLocal(callerAddress(socket as Socket), peerIdentity(socket)?.authorized === true)
  const caller = callers.enabled ? await identifyCaller(credential, certificate, gateway, o.admit) : undefined
  if (callers.required && !caller) throw new GatewayError('caller_credentials_missing', 'caller credentials required on CONNECT: send Proxy-Authorization: Bearer <token>')
  return caller
}
