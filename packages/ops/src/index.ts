export type {
  BatchDurationsView,
  BatchView,
  DashboardHistory,
  DashboardOptions,
  DashboardStatus,
  DashboardTotals,
  DashboardView,
  OpenWindowView,
  WindowView,
} from './dashboard';
export { DEFAULT_CLIENT_QUEUE_BYTES } from './event-stream';
export {
  createHealth,
  type Health,
  type HealthOptions,
  type HealthReport,
  type HealthStatus,
} from './health';
export { type OpsServer, type OpsServerOptions, startOpsServer } from './http-server';
export {
  BATCH_DURATION_BUCKETS,
  createPipelineMetrics,
  type PartitionLagSample,
  type PipelineMetrics,
  type PipelineMetricsOptions,
} from './metrics-registry';
export {
  type Operations,
  type OperationsLogger,
  type ServeOperationsOptions,
  serveOperations,
} from './operations';
