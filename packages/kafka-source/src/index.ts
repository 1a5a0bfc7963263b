export {
  connectionSecrets,
  type KafkaConnectionOptions,
  librdkafkaConfig,
  SASL_MECHANISMS,
  type SaslMechanism,
  type SaslOptions,
  type TlsOptions,
} from './connection';
export {
  type KafkaDeadLetterOptions,
  kafkaDeadLetters,
  MIN_DEAD_LETTER_BYTES,
  ORIGINAL_SIZE_HEADER,
  TRUNCATED_HEADER,
} from './dead-letter-topic';
export {
  type DedupedEmitter,
  type DedupeOptions,
  dedupeEvents,
  dedupeMessages,
  normalizeClientMessage,
} from './dedupe-events';
export { fromClientError } from './kafka-errors';
export { type KafkaHeader, type KafkaRecord, kafkaText, kafkaValueText } from './kafka-record';
export {
  KAFKA_CONSUMER_DEFAULTS,
  type KafkaSource,
  type KafkaSourceEvent,
  type KafkaSourceOptions,
  kafkaSource,
  laneOf,
  type PartitionLag,
  parseLane,
  type TopicPartitionOffset,
} from './kafka-source';
export { type KafkaPartials, type KafkaPartialsOptions, kafkaPartials } from './partials';
export {
  createKafkaProducer,
  type Delivery,
  type KafkaProducer,
  type KafkaProducerOptions,
  type SendOptions,
} from './producer';
