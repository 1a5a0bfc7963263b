/**
 * The file name of a batch: `batch_` then the id zero-padded to 5 digits (wider past 99999), then `.json`.
 *
 * @example
 * ```ts
 * batchFileName(42) // 'batch_00042.json'
 * ```
 */
export function batchFileName(batchId: number, extension = '.json'): string {
  return `batch_${String(batchId).padStart(5, '0')}${extension}`;
}
