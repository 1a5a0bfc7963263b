import { Rejection, type Step } from './rejection';

/**
 * Chains validation and transform steps: each step's output is the next one's input, and the first
 * rejection stops the chain.
 *
 * @example
 * ```ts
 * const decode = composeSteps(parseTicket, (ticket) => enrichTicket(ticket));
 * ```
 */
export function composeSteps<A, B, C>(first: Step<A, B>, second: Step<B, C>): Step<A, C>;
export function composeSteps<A, B, C, D>(
  first: Step<A, B>,
  second: Step<B, C>,
  third: Step<C, D>,
): Step<A, D>;
export function composeSteps(...steps: Step<unknown, unknown>[]): Step<unknown, unknown> {
  return (input, context) => {
    let value = input;
    for (const step of steps) {
      value = step(value, context);
      if (value instanceof Rejection) return value;
    }
    return value;
  };
}
