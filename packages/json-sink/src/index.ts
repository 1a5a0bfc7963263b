export { batchFileName } from './batch-key';
export { deadLetterFile } from './dead-letter-file';
export { defaultBatchFormat, type JsonSinkOptions, jsonSink } from './json-sink';
