/**
 * A pass-through tunnel has no inner requests to judge again: it is judged again itself, as its
 * CONNECT would be under the snapshot then in force (listen.waysIn without `connect`, a reload
 * that removes its entry or its app, a bearer that expired or was revoked), and closed when refused.
 */
import type { Duplex } from 'node:stream'
import { GatewayError } from '../errors.js'
import { authFailureLabel, type PresentedCredential } from '../callers/index.js'
import { checkWayIn, type Gateway } from '../gateway/index.js'
import type { AdmitOptions } from './steps/authenticate-caller.js'
import { admitConnect } from './admit-connect.js'
import { callerCertificate } from './caller-connection.js'
import { passThroughEntry } from './pass-through.js'
import { asGatewayError } from './write-error.js'

/** The verdict on the pass-through tunnel `socket` opened to `target` (`authority`; with the `credential` its CONNECT carried, if any) under a snapshot: the refusal, or undefined. */
export function judgePassThrough(o: { admit: AdmitOptions }, socket: Duplex, target: { host: string; port: number }, authority: string, credential: PresentedCredential | undefined): (g: Gateway) => Promise<GatewayError | undefined> {
  return async (g) => {
    try {
      checkWayIn(g, 'connect')
      const entry = passThroughEntry(g.config.interception, target)
      if (!entry || (g.byHost.get(authority)?.length ?? 0) > 0) return new GatewayError('endpoint_not_configured', `pass-through ${authority} closed: the host is no longer a pass-through host of this gateway`)
      await admitConnect(o, g, socket, credential, credential === undefined ? callerCertificate(socket) : undefined)
      return undefined
    } catch (err) {
      const label = authFailureLabel(err)
      if (label) o.admit.onAuthFailure?.(label)
      return asGatewayError(err)
    }
  }
}
