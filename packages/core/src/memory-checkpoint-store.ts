import { type BatchPlan, type CheckpointState, type CheckpointStore, withEventTime } from './checkpoint';

/**
 * A {@link CheckpointStore} in memory: batch ids start at 0 each time the program starts. For tests and
 * for pipelines whose output needs no continuity across restarts.
 */
export function memoryCheckpointStore(): CheckpointStore & { readonly plans: readonly BatchPlan[] } {
  const plans: BatchPlan[] = [];
  const committed = new Set<number>();
  return {
    location: 'memory',
    plans,
    async load(): Promise<CheckpointState> {
      const last = plans.at(-1);
      if (last === undefined) return { nextBatchId: 0, positions: {} };
      if (committed.has(last.batchId)) {
        return withEventTime({ nextBatchId: last.batchId + 1, positions: last.positions }, last);
      }
      const previous = plans.at(-2);
      return withEventTime(
        { nextBatchId: last.batchId, positions: previous?.positions ?? {}, pending: last },
        previous,
      );
    },
    async begin(plan) {
      plans.push(plan);
    },
    async commit(plan) {
      committed.add(plan.batchId);
    },
  };
}
