/**
 * A fold module for the worker-thread tests: orders as JSON lines, with an hourly and a daily window
 * fed by the batch's own metrics (so the engine shares panes between them and with the batch).
 */
import { isMainThread } from 'node:worker_threads';
import {
  count,
  countBy,
  digest,
  foldWorker,
  max,
  metrics,
  min,
  reject,
  sum,
  tumblingWindow,
} from '../../src/index';

export interface Order {
  readonly t: number;
  readonly amount: number;
  readonly shop: string;
}

export interface OrdersFoldOptions {
  /** Refuse orders of this shop (to check that options reach every thread). */
  readonly banned?: string;
  /** Give each thread metrics of another shape (to check that a disagreement is refused). */
  readonly skew?: boolean;
}

export default foldWorker((options: OrdersFoldOptions = {}) => {
  const orderMetrics = metrics({
    orders: count(),
    amount: sum((o: Order) => o.amount),
    by_shop: countBy((o: Order) => o.shop),
    lo: min((o: Order) => o.amount),
    hi: max((o: Order) => o.amount),
    amount_digest: digest((o: Order) => o.amount, { quantiles: { median: 0.5, p99: 0.99 } }),
    ...(options.skew === true && !isMainThread ? { extra: count() } : {}),
  });
  return {
    decode: (line: string) => {
      const order = JSON.parse(line) as Order;
      if (typeof order.t !== 'number') return reject('an order needs a time "t"');
      if (order.shop === options.banned) return reject(`shop ${order.shop} is banned`);
      return order;
    },
    metrics: orderMetrics,
    eventTime: {
      timestamp: (o: Order) => o.t,
      windows: [
        tumblingWindow({ name: 'hourly', size: '1h', metrics: orderMetrics }),
        tumblingWindow({ name: 'daily', size: '24h', metrics: orderMetrics }),
      ],
      allowedLateness: '10m',
      idleTimeout: '1m',
    },
  };
});
