/** A worker could not start: its own one-line reason, which the primary reports once as the instance's. */
export class WorkerStartFailure extends Error {
  override name = 'WorkerStartFailure'
}
