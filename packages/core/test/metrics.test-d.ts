import { describe, expectTypeOf, it } from 'vitest';
import {
  type Aggregator,
  count,
  countBy,
  groupBy,
  type KeyCount,
  type KeyValue,
  mean,
  median,
  metrics,
} from '../src/index';

interface Ticket {
  readonly priority: 'low' | 'high';
  readonly sla_hours: number;
  readonly team: string;
}

describe('metrics types', () => {
  it('infers the record type and each named result', () => {
    const spec = metrics({
      total: count(),
      by_priority: countBy((t: Ticket) => t.priority),
      sla_median: median((t: Ticket) => t.sla_hours),
      by_team: groupBy(
        (t: Ticket) => t.team,
        mean((t: Ticket) => t.sla_hours),
      ),
    });
    expectTypeOf(spec).toMatchTypeOf<Aggregator<Ticket, unknown[], unknown>>();
    expectTypeOf(spec.result(spec.init())).toEqualTypeOf<{
      total: number;
      by_priority: KeyCount<'low' | 'high'>[];
      sla_median: number | null;
      by_team: KeyValue<string, number | null>[];
    }>();
  });
});
