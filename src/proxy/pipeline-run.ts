/**
 * Runs the pipeline's phases (pipeline.ts) for one request, as proxyRequest awaits them: route,
 * admit and prepare in `prepare`, then the upstream call, then `respond`. No async function of
 * its own where nothing waits (admission and every step synchronous, as on the open gateway).
 */
import { answerAsLastHop } from './max-forwards.js'
import type { Admitted, Context, Pipeline, ResponseStep, Step, UpstreamResponse } from './pipeline.js'

/**
 * The pipeline up to the upstream call (route, admit, prepare): the request ready for `forward`, or the
 * pipeline's own answer when it makes no call (an OPTIONS naming it the last hop); a promise only when
 * admission or a step waits. Throws (or rejects with) GatewayError on any refusal. The caller awaits
 * `forward` and runs `respond` itself (proxy-request.ts): an async function of its own here cost every
 * request a promise, a suspended frame and a microtask turn.
 */
export function prepare(pipeline: Pipeline, ctx: Context): Admitted | UpstreamResponse | Promise<Admitted | UpstreamResponse> {
  const routed = pipeline.route(ctx)
  ctx.facts.endpoint = routed.endpoint.name
  const admission = pipeline.admit(routed)
  return admission instanceof Promise ? admission.then((admitted) => prepareAdmitted(pipeline, ctx, admitted)) : prepareAdmitted(pipeline, ctx, admission)
}

/** The prepare steps of an admitted request (its own answer instead when the pipeline makes no call); a promise only when a step waits. */
function prepareAdmitted(pipeline: Pipeline, ctx: Context, admitted: Admitted): Admitted | UpstreamResponse | Promise<Admitted | UpstreamResponse> {
  ctx.facts.caller = admitted.caller.appId
  if (ctx.inbound.method === 'OPTIONS') {
    // Max-Forwards: 0 ends here (RFC 9110 §7.6.2), before any credential is prepared.
    const own = answerAsLastHop(admitted)
    if (own) return own
  }
  const steps = pipeline.prepare
  for (let i = 0; i < steps.length; i++) {
    const pending = (steps[i] as Step).run(admitted)
    // A synchronous step costs no microtask turn; from the first that waits on, the rest run after it.
    if (pending !== undefined) return prepareFrom(steps, i + 1, admitted, pending)
  }
  return admitted
}

/** The prepare steps from `from` on, after the one that waits (`pending`). */
async function prepareFrom(steps: readonly Step[], from: number, admitted: Admitted, pending: Promise<void>): Promise<Admitted> {
  await pending
  for (let i = from; i < steps.length; i++) {
    const next = (steps[i] as Step).run(admitted)
    if (next !== undefined) await next
  }
  return admitted
}

/** Whether `prepare` gave the pipeline's own answer rather than a request to forward. */
export function isAnswer(prepared: Admitted | UpstreamResponse): prepared is UpstreamResponse {
  return (prepared as Partial<UpstreamResponse>).status !== undefined
}

/** The respond steps over the upstream's answer `res` to `admitted`. */
export function respond(pipeline: Pipeline, admitted: Admitted, res: UpstreamResponse): UpstreamResponse {
  const steps = pipeline.respond
  for (let i = 0; i < steps.length; i++) (steps[i] as ResponseStep).run(admitted, res)
  return res
}
