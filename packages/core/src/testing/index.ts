export { type MemorySink, memorySink } from './memory-sink';
export { type MemorySource, type MemorySourceOptions, memorySource, type SourceEvent } from './memory-source';
export { runOnVirtualTime, type VirtualRunOptions, type VirtualRunResult } from './run-on-virtual-time';
