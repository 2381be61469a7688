/**
 * admit: who is calling. Until caller apps are configured the gateway admits every caller
 * as the anonymous app "-" (suitable only behind a network boundary; the README says so).
 */
import type { Admitted, Caller, Routed } from '../pipeline.js'

const OPEN_CALLER: Caller = Object.freeze({ appId: '-', claims: Object.freeze({}) })

/** Admits every request as the open caller. */
export async function admitOpen(ctx: Routed): Promise<Admitted> {
  return { ...ctx, caller: ctx.tunnel?.caller ?? OPEN_CALLER } as Admitted
}
