/** The pipeline's steps in order. Order is data: a test pins it. */
import { forwardUpstream } from './steps/forward.js'
import { admitOpen } from './steps/authenticate-caller.js'
import { addForwardingHeaders, addResponseVia } from './steps/forwarding-headers.js'
import { stripRequestHopByHop, stripResponseHopByHop } from './steps/hop-by-hop.js'
import { matchEndpoint } from './steps/match-endpoint.js'
import type { Admitted, Pipeline, Routed, Step } from './pipeline.js'

export interface PipelineOptions {
  admit?: (ctx: Routed) => Promise<Admitted>
  /** Steps run after header cleanup and before signing-order-sensitive steps end; sign last. */
  prepare?: readonly Step[]
}

/** Builds the standard pipeline: match → admit → strip → forwarding headers → [extra…] → forward. */
export function createPipeline(o: PipelineOptions = {}): Pipeline {
  return {
    route: matchEndpoint,
    admit: o.admit ?? admitOpen,
    prepare: [stripRequestHopByHop, addForwardingHeaders, ...(o.prepare ?? [])],
    forward: forwardUpstream,
    respond: [stripResponseHopByHop, addResponseVia],
  }
}
