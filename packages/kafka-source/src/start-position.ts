import type { DataGap } from '@ticketflow/core';

/** What is known about one newly assigned partition when deciding where to read it from. */
export interface PartitionFacts {
  /** The partition. */
  readonly partition: number;
  /** The next offset after this processor's last committed batch (its checkpoint), when it has one. */
  readonly checkpoint: number | undefined;
  /** The consumer group's committed offset, when the group has one. */
  readonly group: number | undefined;
  /** The partition's log start offset: the first offset the broker still has. */
  readonly logStart: number;
  /** The partition's log end offset (high watermark). */
  readonly logEnd: number;
  /** True when the partition did not exist yet when the source opened (the topic grew since). */
  readonly added: boolean;
}

/** How the source starts partitions without a position. */
export interface StartPolicy {
  /** The topic, for messages. */
  readonly topic: string;
  /** The consumer group, for messages. */
  readonly groupId: string;
  /** Where a new group starts. */
  readonly startFrom: 'earliest' | 'latest';
  /** True when the group (or this processor's checkpoint) had a position for the topic when the source opened. */
  readonly groupStarted: boolean;
}

/** Where to read a partition from, and what to say about it. */
export interface StartDecision {
  /**
   * The offset to assign: a number, or `'beginning'` for the partition's log start (resolved by the
   * client when it fetches, so that retention in between cannot make it out of range).
   */
  readonly offset: number | 'beginning';
  /** True when `offset` was resolved from `startFrom: 'latest'` and must be committed at once for the group. */
  readonly commitNow: boolean;
  /** Records deleted between the expected position and the log start offset. */
  readonly gap: DataGap | undefined;
  /** The expected position is past the log end offset: the topic was recreated or truncated. */
  readonly pastEnd: boolean;
  /** Lines to log. */
  readonly notes: ReadonlyArray<{ readonly level: 'info' | 'warn'; readonly message: string }>;
}

/**
 * Decides where to read a newly assigned partition from:
 *
 * - the checkpoint's position and the group's committed offset, whichever is further: a group offset
 *   ahead means another member of the group counted those records (logged at INFO); a checkpoint
 *   ahead means another member may have counted this processor's last records again (WARN);
 * - without either, `startFrom` for a new group's partitions that existed when the source opened, and
 *   the log start for any other (a partition added later, or one a running group never committed);
 * - a position below the log start offset is a gap (records deleted before they were read); one past
 *   the log end offset means the topic was recreated or truncated.
 */
export function decideStart(facts: PartitionFacts, policy: StartPolicy): StartDecision {
  const { partition, checkpoint, group, logStart, logEnd } = facts;
  const where = `${policy.topic} partition ${partition}`;
  const notes: Array<{ level: 'info' | 'warn'; message: string }> = [];
  let expected: number | undefined;
  if (checkpoint !== undefined && group !== undefined && group > checkpoint) {
    expected = group;
    notes.push({
      level: 'info',
      message: `${where}: group ${policy.groupId} committed offset ${group}, ahead of this processor's checkpoint at ${checkpoint}: another member already counted offsets ${checkpoint} to ${group - 1}, resuming from ${group}`,
    });
  } else if (checkpoint !== undefined && group !== undefined && group < checkpoint) {
    expected = checkpoint;
    notes.push({
      level: 'warn',
      message: `${where}: this processor's checkpoint is at offset ${checkpoint} but group ${policy.groupId} committed only ${group}: another member may have counted offsets ${group} to ${checkpoint - 1} too (processors sharing a group with outputs of their own are not exactly once; the scale-out mode with --partials-topic is), resuming from ${checkpoint}`,
    });
  } else {
    expected = checkpoint ?? group;
  }

  if (expected === undefined) {
    if (policy.startFrom === 'latest' && !policy.groupStarted && !facts.added) {
      notes.push({
        level: 'info',
        message: `${where}: new group ${policy.groupId} starts at the log end offset ${logEnd} (start from latest)`,
      });
      return { offset: logEnd, commitNow: true, gap: undefined, pastEnd: false, notes };
    }
    if (facts.added) {
      notes.push({
        level: 'info',
        message: `${where} was added after the processor started: reading it from its beginning (offset ${logStart})`,
      });
    } else if (policy.startFrom === 'latest') {
      notes.push({
        level: 'info',
        message: `${where} has no committed offset in group ${policy.groupId}, which already runs: reading it from its beginning (offset ${logStart}); start from latest applies to a new group only`,
      });
    }
    return { offset: 'beginning', commitNow: false, gap: undefined, pastEnd: false, notes };
  }
  if (expected < logStart) {
    return {
      offset: logStart,
      commitNow: false,
      gap: { expected, firstAvailable: logStart, lost: logStart - expected },
      pastEnd: false,
      notes,
    };
  }
  return { offset: expected, commitNow: false, gap: undefined, pastEnd: expected > logEnd, notes };
}

/** The one-line description of a data gap, as errors and warnings show it. */
export function describeGap(topic: string, partition: number, gap: DataGap): string {
  return `data loss on ${topic} partition ${partition}: expected offset ${gap.expected}, first available offset ${gap.firstAvailable}: ${gap.lost} records were deleted (retention or DeleteRecords) before they were read`;
}
