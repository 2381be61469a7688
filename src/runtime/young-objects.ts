/**
 * V8's allocation-site pretenuring, turned off for the gateway's process.
 *
 * V8 watches each object-literal site: when nearly all of a site's objects survive a
 * young-generation collection, it allocates that site's later objects straight in the old
 * generation. Under load a proxy always has requests in flight across a collection, so sites
 * such as the request context get marked long-lived; an old context then holds every young
 * object of its request (headers, sockets' buffers, the upstream answer) through the next
 * collections, those objects' own sites reach 100 % survival too, and soon every request's
 * whole graph is promoted and left for mark-compact. Measured on this gateway (GET through
 * the mTLS path): ~9 KB promoted per request and scavenges 10–20 × longer than the same
 * traffic without pretenuring (docs/performance.md, "Requests die young").
 *
 * A request's objects live for one request; none of them should ever be pretenured.
 * Set at run time rather than on the command line so that every way of starting a gateway
 * (CLI, --workers children, embedding startGateway) gets it; set after start it still takes
 * effect for what is allocated later, which test/runtime/young-objects.test.ts checks.
 */
import { setFlagsFromString } from 'node:v8'

let applied = false

/** Idempotent; call before serving (later allocations are the ones it changes). */
export function keepRequestObjectsYoung(): void {
  if (applied) return
  applied = true
  setFlagsFromString('--no-allocation-site-pretenuring')
}
