/** The pipeline's steps in order. Order is data: a test pins it. */
import { forwardUpstream } from './steps/forward.js'
import { admitOpen } from './steps/authenticate-caller.js'
import { addForwardingHeaders, addResponseVia } from './steps/forwarding-headers.js'
import { stripRequestHopByHop, stripResponseHopByHop } from './steps/hop-by-hop.js'
import { stripGatewayCredentials } from './steps/strip-gateway-credentials.js'
import { matchEndpoint } from './steps/match-endpoint.js'
import { applyAuthorization } from './steps/apply-authorization.js'
import { createResolveToken, type UserTokenSource } from './steps/resolve-token.js'
import { createSignOAuth1, type OnSignature } from './steps/sign-oauth1.js'
import type { Admitted, Pipeline, Routed } from './pipeline.js'
import type { BufferedBodies } from '../runtime/index.js'

export interface PipelineOptions {
  admit?: (ctx: Routed) => Admitted | Promise<Admitted>
  /** Where per-user OAuth tokens come from (the three-legged dance's store). */
  userTokens?: UserTokenSource
  onSignature?: OnSignature
  /** The process's budget for bodies buffered whole (start-up state, kept across reloads). */
  bufferedBodies?: BufferedBodies
}

/** The standard pipeline: match → admit → strip hop-by-hop and gateway credentials → forwarding headers → token → fields → sign → forward → response headers (hop-by-hop, Via). Route mode's cookie scoping runs in proxy-request.ts. */
export function createPipeline(o: PipelineOptions = {}): Pipeline {
  return {
    route: matchEndpoint,
    admit: o.admit ?? admitOpen,
    prepare: [stripRequestHopByHop, stripGatewayCredentials, addForwardingHeaders, createResolveToken(o.userTokens), applyAuthorization, createSignOAuth1(o.onSignature)],
    forward: forwardUpstream,
    respond: [stripResponseHopByHop, addResponseVia],
    ...(o.bufferedBodies ? { bufferedBodies: o.bufferedBodies } : {}),
  }
}
