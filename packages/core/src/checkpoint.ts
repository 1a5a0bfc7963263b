import type { BlobStore } from './blob-store';
import { TicketflowError } from './errors';
import type { EventTimeState } from './event-time';
import type { InputRange, Positions } from './source';

/** What the checkpoint records about a batch before its output is written (its "offsets log" entry). */
export interface BatchPlan {
  /** The batch id. */
  readonly batchId: number;
  /** When the batch's window opened, in ms since the epoch. */
  readonly windowStart: number;
  /** When it closed, in ms since the epoch. */
  readonly windowEnd: number;
  /** The input the batch covers: a replay reads exactly this again. */
  readonly range: InputRange;
  /** For every lane, the next offset to read once this batch is committed. */
  readonly positions: Positions;
  /**
   * With event-time windows: the watermark after this batch (ms since the epoch, `null` before any
   * record), which a replay of the batch uses again. Absent without them.
   */
  readonly watermark?: number | null;
  /** With event-time windows: their state after this batch (open windows, lane progress). */
  readonly eventTime?: EventTimeState;
}

/** What a pipeline resumes from. */
export interface CheckpointState {
  /** The id the next new batch gets. */
  readonly nextBatchId: number;
  /** For every lane, the next offset to read. */
  readonly positions: Positions;
  /** A batch whose range was recorded but whose commit was not: it is replayed first. */
  readonly pending?: BatchPlan;
  /** The event-time state after the last committed batch, when it recorded one. */
  readonly eventTime?: EventTimeState;
}

/** Adds the event-time state `plan` recorded (the last committed batch's) to a checkpoint state. */
export function withEventTime(state: CheckpointState, plan: BatchPlan | undefined): CheckpointState {
  return plan?.eventTime === undefined ? state : { ...state, eventTime: plan.eventTime };
}

/**
 * Durable progress of a pipeline: the next batch id and each batch's input range. The engine calls
 * `begin` before it writes a batch and `commit` once the batch is written, so that after a crash it
 * replays an uncommitted batch over exactly the same records.
 */
export interface CheckpointStore {
  /** Reads the state to resume from; an empty store starts at batch 0. */
  load(): Promise<CheckpointState>;
  /** Durably records a batch's plan before its output is written. */
  begin(plan: BatchPlan): Promise<void>;
  /** Durably records that a batch's output is written. */
  commit(plan: BatchPlan): Promise<void>;
  /** Where the checkpoint lives, for logs. */
  readonly location: string;
}

/** Options of {@link blobCheckpointStore}. */
export interface BlobCheckpointOptions {
  /** Key prefix of the checkpoint inside the store. Default `'_checkpoint/'`. */
  readonly prefix?: string;
  /** How many batches of history to keep; older entries are deleted. Default 100. */
  readonly retain?: number;
}

const OFFSETS = 'offsets/';
const COMMITS = 'commits/';

function idsUnder(keys: readonly string[], prefix: string): number[] {
  const ids: number[] = [];
  for (const key of keys) {
    const match = /^(\d+)\.json$/.exec(key.slice(prefix.length));
    if (match) ids.push(Number(match[1]));
  }
  return ids.sort((a, b) => a - b);
}

/**
 * Reads a checkpoint entry; a damaged one (truncated, edited, overwritten outside the processor) fails
 * with a one-line `CHECKPOINT_FAILED` that names the file and the way out: delete it and every later
 * entry to redo those batches from the entry before.
 */
function parsePlan(
  bytes: Uint8Array,
  batchId: number,
  where: (key: string) => string,
  prefix: string,
): BatchPlan {
  try {
    const plan = JSON.parse(Buffer.from(bytes).toString('utf8')) as BatchPlan;
    if (
      typeof plan !== 'object' ||
      plan === null ||
      plan.batchId !== batchId ||
      typeof plan.range !== 'object' ||
      typeof plan.positions !== 'object'
    ) {
      throw new Error(bytes.byteLength === 0 ? 'empty file' : 'fields missing or wrong');
    }
    return plan;
  } catch (error) {
    const reason = error instanceof SyntaxError ? 'not JSON' : (error as Error).message;
    throw new TicketflowError(
      'CHECKPOINT_FAILED',
      `checkpoint entry ${where(`${prefix}${OFFSETS}${batchId}.json`)} is unreadable (${reason}): ` +
        `with no processor running, delete it and the later entries (${OFFSETS}N.json and ${COMMITS}N.json for N >= ${batchId}) ` +
        `in ${where(prefix)} to redo batch ${batchId} onwards from the entry before it (from the start of the input if none is left); ` +
        'safe while the input still holds those records (Kafka retention), as their batch files are then rewritten',
      { cause: error },
    );
  }
}

/**
 * A {@link CheckpointStore} kept as small JSON objects in a {@link BlobStore}: `offsets/N.json` holds
 * batch N's plan, `commits/N.json` marks it written: an offsets log and a commit log.
 *
 * @example
 * ```ts
 * const checkpoint = blobCheckpointStore(localBlobStore('./ticket_metrics_json'));
 * ```
 */
export function blobCheckpointStore(store: BlobStore, options: BlobCheckpointOptions = {}): CheckpointStore {
  const prefix = options.prefix ?? '_checkpoint/';
  const retain = options.retain ?? 100;
  const offsetsKey = (id: number) => `${prefix}${OFFSETS}${id}.json`;
  const commitsKey = (id: number) => `${prefix}${COMMITS}${id}.json`;
  return {
    location: store.describe(prefix),
    async load() {
      const ids = idsUnder(await store.list(prefix + OFFSETS), prefix + OFFSETS);
      const last = ids.at(-1);
      if (last === undefined) return { nextBatchId: 0, positions: {} };
      const bytes = await store.get(offsetsKey(last));
      if (bytes === undefined)
        throw new TicketflowError(
          'CHECKPOINT_FAILED',
          `checkpoint entry ${store.describe(offsetsKey(last))} vanished while it was read: is another processor cleaning this checkpoint?`,
          { retriable: true },
        );
      const plan = parsePlan(bytes, last, store.describe, prefix);
      const committed = (await store.get(commitsKey(last))) !== undefined;
      if (committed) return withEventTime({ nextBatchId: last + 1, positions: plan.positions }, plan);
      const previous = ids.at(-2);
      let before: BatchPlan | undefined;
      if (previous !== undefined) {
        const bytes = await store.get(offsetsKey(previous));
        if (bytes !== undefined) before = parsePlan(bytes, previous, store.describe, prefix);
      }
      return withEventTime({ nextBatchId: last, positions: before?.positions ?? {}, pending: plan }, before);
    },
    async begin(plan) {
      await store.put(offsetsKey(plan.batchId), JSON.stringify(plan));
    },
    async commit(plan) {
      await store.put(commitsKey(plan.batchId), JSON.stringify({ batchId: plan.batchId }));
      const expired = plan.batchId - retain;
      if (expired >= 0) {
        await store.delete(commitsKey(expired));
        await store.delete(offsetsKey(expired));
      }
    },
  };
}
